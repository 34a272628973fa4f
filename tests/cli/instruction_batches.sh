#!/usr/bin/env bash
# data.format = "instruction" (the book's chapter 7) through `ember batches
# --config`: the book's printed section-7.3 figures (116 training batches of
# seed 123, batch 8, allowed_max_length 1024, their shapes in order, the last
# batch's inputs[0] and targets[0]; tests/golden/ch07_train_batches.txt),
# the split sizes, and the one-line errors of bad instruction files, with
# exit 2.   bash instruction_batches.sh <ember> <source-dir>
source "$(dirname "${BASH_SOURCE[0]}")/lib/start.sh"
source tests/cli/lib/expect.sh
data="$src/data/instruction-data.json"
if [[ ! -f "$data" ]]; then
  echo "skipped: instruction_batches: $data is missing (run scripts/setup.sh)"
  exit 77
fi
cfg=configs/gpt2-medium-instruct.toml

# The book's 116 training batches, their shapes and the last one's first row.
"$ember" batches --config "$cfg" >"$w/train.jsonl"
python3 - "$w/train.jsonl" tests/golden/ch07_train_batches.txt <<'PY'
import json, sys
batches = [json.loads(line) for line in open(sys.argv[1])]
golden = [l.split() for l in open(sys.argv[2]) if l.strip() and not l.startswith("#")]
want = [(int(r), int(c)) for k, r, c in (g for g in golden if g[0] == "shape")]
got = [(len(b["inputs"]), len(b["inputs"][0])) for b in batches]
assert len(got) == len(want) == 116, f"{len(got)} batches, expected {len(want)}"
for i, (g, x) in enumerate(zip(got, want)):
    assert g == x, f"batch {i}: shape {g}, the book prints {x}"
    assert [len(r) for r in batches[i]["targets"]] == [x[1]] * x[0], f"batch {i}: targets"
rows = {g[0]: [int(v) for v in g[1:]] for g in golden if g[0] != "shape"}
assert batches[-1]["inputs"][0] == rows["inputs0"], "last batch inputs[0] differs from the book"
assert batches[-1]["targets"][0] == rows["targets0"], "last batch targets[0] differs from the book"
print("ok: the book's 116 training batch shapes and the last batch's first row")
PY

# Validation and test in file order, last batch kept: 55 -> 7 batches, 110 -> 14.
n=$("$ember" batches --config "$cfg" --split val | wc -l)
[[ "$n" -eq 7 ]] || fail "--split val: $n batches, expected 7 (55 entries)"
n=$("$ember" batches --config "$cfg" --split test | wc -l)
[[ "$n" -eq 14 ]] || fail "--split test: $n batches, expected 14 (110 entries)"
python3 - <<'PY' "$("$ember" batches --config "$cfg" --split val --limit 1)"
import json, sys
b = json.loads(sys.argv[1])
# Validation starts at entry 935 + 110 = 1045, unshuffled; -100 after the
# first padding target of each row.
for row in b["targets"]:
    if -100 in row:
        first = row.index(-100)
        assert row[first - 1] == 50256 and set(row[first:]) == {-100}, row
print("ok: validation batches in order, padding targets -100 after the first")
PY
# mask_prompt: the prompt's targets are -100 too, so every row starts with them.
"$ember" batches --config "$cfg" --set data.mask_prompt=true --split val --limit 1 >"$w/masked.jsonl"
python3 -c '
import json, sys
b = json.load(open(sys.argv[1]))
assert all(r[0] == -100 for r in b["targets"]), "mask_prompt: a row starts with a learned target"
print("ok: data.mask_prompt masks the prompt targets")' "$w/masked.jsonl"
# Truncation to data.max_length (allowed_max_length), not an error.
w16=$("$ember" batches --config "$cfg" --set data.max_length=16 --split val --limit 1 |
  python3 -c 'import json,sys; print(len(json.load(sys.stdin)["inputs"][0]))')
[[ "$w16" -eq 16 ]] || fail "data.max_length=16: width $w16"
# The text format is unchanged: the book's first debug batch of the-verdict.
n=$("$ember" batches --config configs/debug.toml --limit 2 | wc -l)
[[ "$n" -eq 2 ]] || fail "text format --config: $n batches"

# Errors: one line, exit 2, naming the file, the entry and the key.
printf 'not json at all' >"$w/bad.json"
expect_error "data.path $w/bad.json: line 1 (entry 0): not JSON (byte offset" \
  batches --config "$cfg" --set data.path="$w/bad.json"
printf '[{"instruction": "a", "output": "b"},\n {"instruction": "c"' >"$w/cut.json"
expect_error "data.path $w/cut.json: not JSON (byte offset" \
  batches --config "$cfg" --set data.path="$w/cut.json"
python3 -c 'import json; print(json.dumps([{"instruction": "a", "output": "b"}] * 30 + [{"instruction": "x", "input": ""}]))' >"$w/no_output.json"
expect_error "data.path $w/no_output.json: entry 30: missing key 'output'" \
  batches --config "$cfg" --set data.path="$w/no_output.json"
python3 -c 'import json; print(json.dumps([{"instruction": "a", "output": ["b"]}]))' >"$w/type.json"
expect_error "entry 0: 'output' is an array, expected a string" \
  batches --config "$cfg" --set data.path="$w/type.json"
python3 -c 'import json; print(json.dumps([{"instruction": "a", "output": "b"}] * 9))' >"$w/nine.json"
# A training split without one batch (validation never comes out empty:
# n - int(0.85 n) - int(0.1 n) >= 1 whenever the ratios sum below 1).
expect_error "data: data.train_ratio 0.85 of 9 entries gives 7 training entries, fewer than one batch of 8" \
  batches --config "$cfg" --set data.path="$w/nine.json"
n=$("$ember" batches --config "$cfg" --set data.path="$w/nine.json" --set data.batch_size=7 | wc -l)
[[ "$n" -eq 1 ]] || fail "9 entries, batch 7: $n training batches, expected 1"
expect_error "data.train_ratio + data.test_ratio leave no validation entries" \
  batches --config "$cfg" --set data.test_ratio=0.15
expect_error "data.format is not a format (got 'chat', expected text, instruction or classification)" \
  batches --config "$cfg" --set data.format=chat
expect_error "data.mask_prompt applies to data.format = \"instruction\" only" \
  batches --config configs/debug.toml --set data.mask_prompt=true
expect_error "--split test needs data.format = \"instruction\"" \
  batches --config configs/debug.toml --split test
expect_error "batches: --batch-size is taken from the config with --config" \
  batches --config "$cfg" --batch-size 4
echo "ok: instruction batches"
