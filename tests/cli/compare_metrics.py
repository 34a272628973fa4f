"""compare_metrics.py A.jsonl B.jsonl TOL: same evaluations (step, epoch,
tokens_seen equal; losses finite and within TOL). Used by the resume and
interrupt tests. Explicit checks (lib/checks.py): still fails under -O, and
a NaN loss fails."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from checks import compare_metrics, read_jsonl  # noqa: E402

if len(sys.argv) != 4:
    sys.exit(__doc__)
tol = float(sys.argv[3])
worst = compare_metrics(read_jsonl(sys.argv[1]), read_jsonl(sys.argv[2]), tol)
print(f"metrics match: largest loss difference {worst:.3g} (tolerance {tol:g})")
