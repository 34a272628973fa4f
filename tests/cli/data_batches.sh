#!/usr/bin/env bash
# `ember batches` (issue 3 section 4): the book's batches verbatim, the
# shuffled order of PyTorch's DataLoader (tests/golden/loader_orders.txt),
# drop_last, --limit, and the errors.   bash data_batches.sh <ember> <source-dir>
set -euo pipefail
ember="$1"
src="$2"
text="$src/data/the-verdict.txt"
if [[ ! -f "$text" ]]; then
  echo "skipped: data_batches (ember batches on the-verdict): $text is missing (run scripts/setup.sh)"
  exit 77
fi
fail() {
  echo "FAIL: $*"
  exit 1
}
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# The book: batch 8, max_length 4, stride 4, no shuffle.
got="$("$ember" batches --input "$text" --batch-size 8 --max-length 4 --stride 4 --limit 1)"
want='{"inputs": [[40, 367, 2885, 1464], [1807, 3619, 402, 271], [10899, 2138, 257, 7026], [15632, 438, 2016, 257], [922, 5891, 1576, 438], [568, 340, 373, 645], [1049, 5975, 284, 502], [284, 3285, 326, 11]], "targets": [[367, 2885, 1464, 1807], [3619, 402, 271, 10899], [2138, 257, 7026, 15632], [438, 2016, 257, 922], [5891, 1576, 438, 568], [340, 373, 645, 1049], [5975, 284, 502, 284], [3285, 326, 11, 287]]}'
[[ "$got" == "$want" ]] || fail "book batch 8/4/4: got $got"

# The book: batch 1, max_length 4, stride 1, first two batches.
got="$("$ember" batches --input "$text" --batch-size 1 --max-length 4 --stride 1 --limit 2)"
want='{"inputs": [[40, 367, 2885, 1464]], "targets": [[367, 2885, 1464, 1807]]}
{"inputs": [[367, 2885, 1464, 1807]], "targets": [[2885, 1464, 1807, 3619]]}'
[[ "$got" == "$want" ]] || fail "book batch 1/4/1: got $got"

# 5145 tokens, max_length 4, stride 4: range(0, 5141, 4) = 1286 windows.
n="$("$ember" batches --input "$text" --batch-size 8 --max-length 4 --stride 4 | wc -l)"
[[ "$n" -eq 160 ]] || fail "drop_last: expected 160 batches, got $n"
"$ember" batches --input "$text" --batch-size 8 --max-length 4 --stride 4 --no-drop-last >"$tmp/all.jsonl"
n="$(wc -l <"$tmp/all.jsonl")"
[[ "$n" -eq 161 ]] || fail "--no-drop-last: expected 161 batches, got $n"
n="$("$ember" batches --input "$text" --batch-size 8 --max-length 4 --stride 4 --limit 0 | wc -l)"
[[ "$n" -eq 0 ]] || fail "--limit 0 printed $n lines"

# --shuffle: PyTorch's order after torch.manual_seed(123), and again with
# two prefetching threads. The golden holds window indices; map them to ids.
"$ember" batches --input "$text" --batch-size 8 --max-length 4 --stride 4 --shuffle >"$tmp/shuf.jsonl"
"$ember" batches --input "$text" --batch-size 8 --max-length 4 --stride 4 --shuffle --seed 123 \
  --num-workers 2 >"$tmp/shuf2.jsonl"
cmp -s "$tmp/shuf.jsonl" "$tmp/shuf2.jsonl" || fail "--num-workers 2 changed the batches"
python3 - "$src" "$tmp/shuf.jsonl" "$tmp/all.jsonl" <<'PY' || fail "shuffled order differs from PyTorch's"
import json, sys
src, shuf, seq = sys.argv[1:4]
sys.path.insert(0, f"{src}/tests/cli/lib")
from checks import check, read_jsonl
ids = [int(x) for line in open(f"{src}/tests/golden/the_verdict_ids.txt")
       if not line.startswith("#") for x in line.split()]
check(len(ids) == 5145, f"the_verdict_ids.txt: {len(ids)} ids, expected 5145")
lines = open(f"{src}/tests/golden/loader_orders.txt").read().split("\n")
start = lines.index(next(l for l in lines if l.startswith("scenario book_shuffle ")))
check(lines[start + 1].startswith("pass 0 "), f"loader_orders.txt: {lines[start + 1]!r} after the scenario line")
order = []
for l in lines[start + 2:]:
    if not l.startswith("b "):
        break
    order.append([int(x) for x in l.split()[1:]])
got = read_jsonl(shuf)
check(len(got) == len(order) == 160, f"{len(got)} batches, golden {len(order)}, expected 160")
for n, (batch, idx) in enumerate(zip(got, order)):
    want = [ids[4 * i:4 * i + 4] for i in idx]
    check(batch["inputs"] == want, f"batch {n} inputs: {batch['inputs']} vs {want}")
    want = [ids[4 * i + 1:4 * i + 5] for i in idx]
    check(batch["targets"] == want, f"batch {n} targets: {batch['targets']} vs {want}")
# the sequential pass with the short last batch
last = read_jsonl(seq)[-1]["inputs"]
want = [ids[4 * i:4 * i + 4] for i in range(1280, 1286)]
check(last == want, f"last sequential batch: {last} vs {want}")
PY

# Errors: runtime (1) and usage (2).
set +e
err="$("$ember" batches --input "$text" --batch-size 8 --max-length 6000 --stride 4 2>&1 >/dev/null)"
rc=$?
set -e
[[ $rc -eq 1 ]] || fail "too few tokens: exit $rc"
[[ "$err" == "ember: error: batches: $text: GptDataset: the text must have at least max_length + 1 tokens (got 5145 tokens, expected at least 6001)" ]] ||
  fail "too few tokens: $err"
set +e
"$ember" batches --input "$text" --batch-size 0 --max-length 4 --stride 4 >/dev/null 2>&1
rc=$?
set -e
[[ $rc -eq 2 ]] || fail "--batch-size 0: exit $rc, expected 2"
echo "ok"
