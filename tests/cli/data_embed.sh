#!/usr/bin/env bash
# `ember embed` (issue 3 section 4): PyTorch's Embedding weights bit for bit
# (tests/golden/embedding_weights.txt), the book's table, the lookup, floats
# that round-trip float32, and the errors.   bash data_embed.sh <ember> <source-dir>
set -euo pipefail
ember="$1"
src="$2"
fail() {
  echo "FAIL: $*"
  exit 1
}
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

"$ember" embed --vocab-size 6 --dim 3 --ids 2,3,5,1 >"$tmp/a.json"
"$ember" embed --vocab-size 6 --dim 3 --ids 2,3,5,1 --seed 123 >"$tmp/b.json"
cmp -s "$tmp/a.json" "$tmp/b.json" || fail "--seed defaults to 123"
"$ember" embed --vocab-size 1024 --dim 256 --seed 0 >"$tmp/c.json"
"$ember" embed --vocab-size 6 --dim 3 --context-length 4 --ids 3 >"$tmp/d.json"
python3 - "$src" "$tmp" <<'PY' || fail "embed output"
import hashlib, json, struct, sys
src, tmp = sys.argv[1:3]
sys.path.insert(0, f"{src}/tests/cli/lib")
from checks import check
def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]
def sha(rows):
    return hashlib.sha256(b"".join(struct.pack("<%df" % len(r), *r) for r in rows)).hexdigest()
golden = {}
cur = None
for line in open(f"{src}/tests/golden/embedding_weights.txt"):
    w = line.split()
    if w and w[0] == "embedding":
        cur = golden[(int(w[1]), int(w[2]), int(w[3]))] = {"sha": w[4], "rows": {}}
    elif w and w[0] == "row" and cur is not None:
        cur["rows"][int(w[1])] = [float(x) for x in w[2:]]
a = json.load(open(f"{tmp}/a.json"))
check(set(a) == {"weight", "output"}, f"keys {sorted(a)}, expected output and weight")
W = a["weight"]
# the printed decimals read back (as float32) to PyTorch's exact bytes
check(sha(W) == golden[(123, 6, 3)]["sha"], f"seed 123 6x3 weight: sha256 {sha(W)} vs golden {golden[(123, 6, 3)]['sha']}")
check(golden[(123, 6, 3)]["rows"], "embedding_weights.txt: no rows for seed 123 6x3")
for i, row in golden[(123, 6, 3)]["rows"].items():
    check([f32(x) for x in row] == [f32(x) for x in W[i]], f"row {i}: {W[i]} vs golden {row}")
book = [[0.3374, -0.1778, -0.1690], [0.9178, 1.5810, 1.3010], [1.2753, -0.2010, -0.1606],
        [-0.4015, 0.9666, -1.1481], [-1.1589, 0.3255, -0.6315], [-2.8400, -0.7849, -1.4096]]
check(len(W) == 6 and all(round(x, 4) == y for r, b in zip(W, book) for x, y in zip(r, b)),
      f"weight {W} vs the book's {book}")
check(a["output"] == [W[2], W[3], W[5], W[1]], f"lookup of 2,3,5,1: {a['output']}")
c = json.load(open(f"{tmp}/c.json"))
check(c["output"] == [], f"no --ids: output {c['output']}, expected []")
check(sha(c["weight"]) == golden[(0, 1024, 256)]["sha"], f"seed 0 1024x256 weight: sha256 {sha(c['weight'])} vs golden {golden[(0, 1024, 256)]['sha']}")
d = json.load(open(f"{tmp}/d.json"))
check(d["weight"] == W and d["output"] == [W[3]], f"--context-length 4 --ids 3: weight {d['weight']}, output {d['output']}")
check(len(d["pos_weight"]) == 4, f"pos_weight has {len(d['pos_weight'])} rows, expected 4")
# float32 sum (the double sum of two float32 here is exact, then rounded once)
want = [[f32(f32(x) + f32(p)) for x, p in zip(W[3], d["pos_weight"][0])]]
got = [[f32(v) for v in d["input_embeddings"][0]]]
check(got == want, f"input_embeddings {got} vs tok + pos {want}")
PY

set +e
err="$("$ember" embed --vocab-size 6 --dim 3 --ids 2,6 2>&1 >/dev/null)"
rc=$?
set -e
[[ $rc -eq 2 ]] || fail "--ids out of range: exit $rc, expected 2"
[[ "$err" == "ember: error: embed: --ids: token id out of range at index 1 (got 6, expected 0 <= id < 6)" ]] ||
  fail "--ids out of range: $err"
set +e
err="$("$ember" embed --vocab-size 6 --dim 3 --context-length 2 --ids 1,2,3 2>&1 >/dev/null)"
rc=$?
set -e
[[ $rc -eq 2 ]] || fail "too many ids for --context-length: exit $rc, expected 2"
[[ "$err" == "ember: error: embed: --ids: more ids than --context-length (got 3, expected <= 2)" ]] ||
  fail "too many ids: $err"
set +e
"$ember" embed --vocab-size 6 --dim 0 >/dev/null 2>&1
rc=$?
set -e
[[ $rc -eq 2 ]] || fail "--dim 0: exit $rc, expected 2"
echo "ok"
