"""Compares a committed golden file with the same file written live.

Float fields are always compared within a tolerance, never for identity: the
kernels behind a matrix product depend on the CPU as well as on the PyTorch
build. Debian's PyTorch uses OpenBLAS, which picks its kernels by processor
(Haswell, SkylakeX, Zen, ...; OPENBLAS_CORETYPE overrides the choice), and
pip's wheels use MKL; two kernel sets sum in different orders, so the same
code on the same seed gives values that differ in the last bits (measured:
2.4e-7 absolute between the SkylakeX and Haswell kernels, on values near 0.3).

    float field    |golden - live| <= TOL * max(1, |golden|), TOL = 1e-6
    anything else  identical: names, shapes, integers, SHA-256 digests (the
                   seeded initial weights: random draws, no arithmetic that
                   depends on the kernels)

A field is a float only when it is written as one ("0.25", "-1e-05", "3.",
"nan"); an integer field or a 64-digit hex digest never is, even when a digest
happens to read as a number ("1e5"). The first line of each file (who wrote
it) is not compared.

    python3 compare_goldens.py GOLDEN LIVE    # exit 0 same, 1 differs
"""
import re
import sys

FLOAT = re.compile(r"^-?(\d+\.\d*|\.\d+|\d+[eE][-+]?\d+|\d+\.\d*[eE][-+]?\d+)$|^-?(nan|inf)$")
DIGEST = re.compile(r"^[0-9a-f]{64}$")
VERSION = re.compile(r"\(torch (\d+\.\d+)")
TOL = 1e-6


def version(line):
    m = VERSION.search(line)
    return m.group(1) if m else "?"


def is_float(field):
    return bool(FLOAT.match(field)) and not DIGEST.match(field)


def compare_line(a, b):
    """(None, largest float difference) when the lines agree, else (why, 0)."""
    fa, fb = a.split(), b.split()
    if len(fa) != len(fb):
        return f"{len(fb)} fields, the golden has {len(fa)}", 0.0
    worst = 0.0
    for i, (x, y) in enumerate(zip(fa, fb)):
        if x == y:
            continue
        if not (is_float(x) and is_float(y)):
            return f"field {i + 1}: {x} against {y} (must be identical)", 0.0
        diff = abs(float(x) - float(y))
        if not diff <= TOL * max(1.0, abs(float(x))):  # also catches nan
            return f"field {i + 1}: {x} against {y} (beyond {TOL:g} * max(1, |v|))", 0.0
        worst = max(worst, diff)
    return None, worst


def main(golden_path, live_path):
    golden = open(golden_path).read().splitlines()
    live = open(live_path).read().splitlines()
    if len(golden) != len(live):
        print(f"{live_path}: {len(live)} lines, the golden has {len(golden)}")
        return 1
    worst, bad = 0.0, 0
    for n, (a, b) in enumerate(zip(golden[1:], live[1:]), 2):
        if a == b:
            continue
        why, diff = compare_line(a, b)
        if why:
            print(f"{golden_path}:{n}: {why}")
            bad += 1
            if bad >= 5:
                break
        worst = max(worst, diff)
    if bad:
        return 1
    if worst:
        print(f"{golden_path}: equal within rounding (largest |diff| {worst:.2e}; "
              f"torch {version(golden[0])} wrote the golden, {version(live[0])} the live "
              f"file; the CPU's BLAS kernels round differently)")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
