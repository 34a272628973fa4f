"""compare_metrics.py A.jsonl B.jsonl TOL: same evaluations (step, epoch,
tokens_seen equal; losses within TOL). Used by the resume/interrupt tests."""
import json
import sys

a = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
b = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
tol = float(sys.argv[3])
if len(a) != len(b) or not a:
    sys.exit(f"{len(a)} evaluations vs {len(b)}")
for x, y in zip(a, b):
    for k in ("step", "epoch", "tokens_seen"):
        if x[k] != y[k]:
            sys.exit(f"{k}: {x[k]} vs {y[k]}")
    for k in ("train_loss", "val_loss"):
        if abs(x[k] - y[k]) > tol:
            sys.exit(f"{k} at step {x['step']}: {x[k]} vs {y[k]}")
print(f"metrics match: {len(a)} evaluations within {tol}")
