"""Compares a committed golden file with the same file written live.

Written by the same PyTorch version as the golden (its first line says which,
"(torch X.Y)"), the two must be identical. Written by another version, whose
kernels may sum in another order (pip's wheels use MKL, Debian's OpenBLAS),
lines holding float values may differ by rounding: each value is then
compared within 1e-6 * max(1, |v|), everything else (names, shapes, SHA-256
of initial weights, integer lines) must still be identical.

    python3 compare_goldens.py GOLDEN LIVE    # exit 0 same, 1 differs
"""
import re
import sys

FLOAT = re.compile(r"^-?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?$|^-?(nan|inf)$")
VERSION = re.compile(r"\(torch (\d+\.\d+)")
TOL = 1e-6


def version(line):
    m = VERSION.search(line)
    return m.group(1) if m else None


def close(a, b):
    """Lines equal but for float fields within TOL; the first difference."""
    fa, fb = a.split(), b.split()
    if len(fa) != len(fb):
        return f"{len(fa)} fields against {len(fb)}"
    for i, (x, y) in enumerate(zip(fa, fb)):
        if x == y:
            continue
        if not ("." in x + y or "e" in x + y) or not FLOAT.match(x) or not FLOAT.match(y):
            return f"field {i + 1}: {x} against {y}"
        if abs(float(x) - float(y)) > TOL * max(1.0, abs(float(x))):
            return f"field {i + 1}: {x} against {y} (beyond {TOL:g} * max(1, |v|))"
    return None


def main(golden_path, live_path):
    golden = open(golden_path).read().splitlines()
    live = open(live_path).read().splitlines()
    if len(golden) != len(live):
        print(f"{live_path}: {len(live)} lines, the golden has {len(golden)}")
        return 1
    same_version = version(golden[0]) == version(live[0])
    worst, bad = 0.0, 0
    for n, (a, b) in enumerate(zip(golden[1:], live[1:]), 2):
        if a == b:
            continue
        why = f"differs (written by torch {version(golden[0])} and {version(live[0])})" \
            if same_version else close(a, b)
        if why:
            print(f"{golden_path}:{n}: {why}")
            bad += 1
            if bad >= 5:
                break
        else:
            for x, y in zip(a.split(), b.split()):
                if x != y:
                    worst = max(worst, abs(float(x) - float(y)))
    if bad:
        return 1
    if worst:
        print(f"{golden_path}: equal within rounding (largest |diff| {worst:.2e}; "
              f"torch {version(golden[0])} wrote the golden, {version(live[0])} the live file)")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
