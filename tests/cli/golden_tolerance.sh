#!/usr/bin/env bash
# The golden comparison (tests/cli/lib/compare_goldens.py) forgives what a
# different CPU's BLAS kernels change (float fields within 1e-6 relative) and
# nothing else: a golden value moved by 1e-3, a digest, a shape or an integer
# that differs each still fail. Needs only Python 3 (no torch).
#   bash tests/cli/golden_tolerance.sh <ember> <source-dir>
set -euo pipefail
src="$2"
py=${EMBER_PYTHON:-/usr/bin/python3}
cmp="$src/tests/cli/lib/compare_goldens.py"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fails=0

# expect STATUS NAME GOLDEN PYTHON-EDIT: the golden's copy, edited by the
# Python expression (on `lines`, a list of the file's lines), compared.
expect() {
  local want="$1" name="$2" golden="$src/tests/golden/$3" edit="$4" got=0
  "$py" - "$golden" "$tmp/$name" "$edit" <<'PY'
import sys
golden, out, edit = sys.argv[1:4]
lines = open(golden).read().splitlines()
def field(prefix):
    """(line index, fields) of the first line starting with prefix."""
    for i, l in enumerate(lines):
        if l.startswith(prefix):
            return i, l.split()
    raise SystemExit(f"no line starts with {prefix!r}")
def put(i, fields):
    lines[i] = " ".join(fields)
exec(edit)
open(out, "w").write("\n".join(lines) + "\n")
PY
  "$py" "$cmp" "$golden" "$tmp/$name" >"$tmp/$name.out" || got=$?
  if [[ "$got" != "$want" ]]; then
    echo "FAIL: $name: compare_goldens exited $got, expected $want:"
    cat "$tmp/$name.out"
    fails=$((fails + 1))
  else
    echo "ok: $name (exit $got) $(head -1 "$tmp/$name.out")"
  fi
}

# A float value moved by x, as printed with 9 significant digits.
nudge='i, f = field("output "); v = float(f[2]); f[2] = f"{v + STEP:.9g}"; put(i, f)'

expect 0 identical transformer_blocks.txt 'pass'
expect 0 rounding_2e-7 transformer_blocks.txt "${nudge/STEP/2.4e-7}"
expect 0 rounding_neg transformer_blocks.txt "${nudge/STEP/-9e-7}"
expect 0 written_by_other_torch transformer_blocks.txt 'lines[0] = lines[0].replace("torch 1.13", "torch 2.5")'
expect 1 value_1e-3 transformer_blocks.txt "${nudge/STEP/1e-3}"
expect 1 value_2e-6 transformer_blocks.txt "${nudge/STEP/2e-6}"
expect 1 value_nan transformer_blocks.txt 'i, f = field("output "); f[3] = "nan"; put(i, f)'
expect 1 digest transformer_blocks.txt \
  'i, f = field("tensor "); f[3] = f[3][:-1] + ("0" if f[3][-1] != "0" else "1"); put(i, f)'
expect 1 shape transformer_blocks.txt 'i, f = field("output "); f[1] = "2x3x9"; put(i, f)'
expect 1 field_count transformer_blocks.txt 'i, f = field("output "); put(i, f[:-1])'
expect 1 line_count transformer_blocks.txt 'lines.pop()'
expect 1 case_argument transformer_blocks.txt 'i, f = field("case "); f[3] = "seed=2"; put(i, f)'
expect 1 token_id first_batch_embeddings.txt 'i, f = field("inputs "); f[1] = "41"; put(i, f)'
expect 1 embedding_value_1e-3 embedding_weights.txt \
  'i, f = field("row 0 "); f[2] = f"{float(f[2]) + 1e-3:.9g}"; put(i, f)'
expect 1 loader_index loader_orders.txt 'i, f = field("b "); f[1] = str(int(f[1]) + 1); put(i, f)'

((fails == 0)) || { echo "FAIL: $fails case(s)"; exit 1; }
echo "compare_goldens: rounding forgiven, every real change caught"
