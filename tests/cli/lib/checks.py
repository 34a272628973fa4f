"""Checks for the scripted tests' Python (tests/cli/*.sh, compare_metrics.py).

Explicit checks, not `assert`: python3 -O (or PYTHONOPTIMIZE) removes every
`assert`, and a test must still fail then. Each failed check prints one
"FAIL: ..." line saying what differed and exits 1. A number that is not
finite never passes a comparison: `abs(x - y) > tol` and `max(worst, d)` are
both silent about NaN (every comparison with NaN is false).

    import sys; sys.path.insert(0, "tests/cli/lib"); from checks import check
"""
import json
import math
import sys


def fail(message):
    print(f"FAIL: {message}", flush=True)
    sys.exit(1)


def check(condition, message):
    """Fails with `message` unless `condition` is true."""
    if not condition:
        fail(message)


def finite(x):
    """True for an int or float that is neither NaN nor infinite."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def diff(a, b):
    """|a - b|, or inf when either is not a finite number."""
    if not (finite(a) and finite(b)):
        return math.inf
    return abs(a - b)


def check_close(a, b, tol, what):
    """Fails unless a and b are finite and |a - b| <= tol."""
    d = diff(a, b)
    check(d <= tol, f"{what}: {a!r} vs {b!r} (|diff| {d:.3g}, tolerance {tol:g})")
    return d


def read_jsonl(path):
    """The JSON objects of a .jsonl file (blank lines skipped)."""
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def compare_metrics(a, b, tol, what="metrics", exact=("step", "epoch", "tokens_seen")):
    """Two metrics.jsonl lists: the same length (at least one row), equal
    `exact` keys and finite losses within tol. Returns the largest loss
    difference."""
    check(len(a) == len(b) and len(a) > 0, f"{what}: {len(a)} evaluations vs {len(b)}")
    worst = 0.0
    for x, y in zip(a, b):
        for k in exact:
            check(x[k] == y[k], f"{what}: {k} at row {x.get('step')}: {x[k]!r} vs {y[k]!r}")
        for k in ("train_loss", "val_loss"):
            worst = max(worst, check_close(x[k], y[k], tol, f"{what}: {k} at step {x['step']}"))
    return worst


def compare_rates(a, b, norm_tol, what="metrics"):
    """The appendix-D columns of two metrics.jsonl lists (issue 16): each
    evaluation's lr equal (exact: the same expressions in the same order)
    and its grad_norm (before clipping) within norm_tol relative. Returns
    the largest relative grad_norm difference."""
    check(len(a) == len(b) and len(a) > 0, f"{what}: {len(a)} evaluations vs {len(b)}")
    worst = 0.0
    for x, y in zip(a, b):
        check(x["lr"] == y["lr"], f"{what}: lr at step {x['step']}: {x['lr']!r} vs {y['lr']!r}")
        ratio = x["grad_norm"] / y["grad_norm"] if finite(x["grad_norm"]) and finite(y["grad_norm"]) else math.nan
        worst = max(worst, check_close(ratio, 1.0, norm_tol, f"{what}: grad_norm ratio at step {x['step']}"))
    return worst
