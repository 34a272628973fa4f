#!/usr/bin/env bash
# Training and batches from token files (issue 7): the same losses as from the
# same text, bit for bit; data.train_path / data.val_path; a token file as
# data.path is split by tokens; `ember batches` over a token file prints the
# text's batches; config errors name the key (exit 2).
#   bash train_token_file.sh <ember> <source-dir>
set -euo pipefail
ember="$1"
src="$2"
text="$src/data/the-verdict.txt"
if [[ ! -f "$text" ]]; then
  echo "skipped: train_token_file (token files vs the-verdict): $text is missing (run scripts/setup.sh)"
  exit 77
fi
cd "$src"
w="$(mktemp -d)"
trap 'rm -rf "$w"' EXIT
fail() {
  echo "FAIL: $*"
  exit 1
}

# The book's character split (Python: text[:int(0.9 * len(text))]), as two
# texts and as two token files (<|endoftext|> allowed, as ember train does).
python3 - "$text" "$w" <<'PY'
import sys
text = open(sys.argv[1], encoding="utf-8").read()
split = int(0.9 * len(text))
open(sys.argv[2] + "/train.txt", "w", encoding="utf-8", newline="").write(text[:split])
open(sys.argv[2] + "/val.txt", "w", encoding="utf-8", newline="").write(text[split:])
PY
for part in train val; do
  "$ember" tokenize --input "$w/$part.txt" --format bin16 --output "$w/$part.bin" \
    --allowed-special '<|endoftext|>'
done
"$ember" tokenize --input "$text" --format bin16 --output "$w/all.bin" --allowed-special '<|endoftext|>'

# 15 steps, evaluated every 3 (5 evaluations): every run here is debug.toml's.
short=(--config configs/debug.toml --set train.max_steps=15 --set train.eval_freq=3)
run() {
  local name="$1"
  shift
  "$ember" train "${short[@]}" --set run.dir="$w/$name" "$@" >"$w/$name.log"
}
run text
run bins --set data.train_path="$w/train.bin" --set data.val_path="$w/val.bin"
run texts --set data.train_path="$w/train.txt" --set data.val_path="$w/val.txt"
run mixed --set data.train_path="$w/train.bin" --set data.val_path="$w/val.txt"
grep -q "^data: training on 4612 tokens \[0, 4612) of token file $w/train.bin (memory-mapped)" "$w/bins.log" ||
  fail "bins: no data line: $(cat "$w/bins.log")"

# Losses: exact equality (the same ids, the same draws, the same arithmetic).
python3 - "$w" <<'PY'
import sys
w = sys.argv[1]
sys.path.insert(0, "tests/cli/lib")
from checks import check, compare_metrics, read_jsonl
ref = read_jsonl(f"{w}/text/metrics.jsonl")
check(len(ref) >= 5, f"text: {len(ref)} evaluations, expected at least 5")
for name in ("bins", "texts", "mixed"):
    compare_metrics(read_jsonl(f"{w}/{name}/metrics.jsonl"), ref, 0.0, f"{name} vs text")
print(f"same losses over {len(ref)} evaluations: text, token files, split texts, mixed")
PY

# A token file as data.path: split by tokens, floor(0.9 * 5145) = 4630.
run onebin --set data.path="$w/all.bin"
grep -q "^data: training on 4630 tokens \[0, 4630) of token file $w/all.bin" "$w/onebin.log" ||
  fail "onebin: $(cat "$w/onebin.log")"
grep -q "^data: validation on 515 tokens \[4630, 5145) of token file $w/all.bin" "$w/onebin.log" ||
  fail "onebin val: $(cat "$w/onebin.log")"
python3 - "$w/onebin/metrics.jsonl" <<'PY'
import sys
sys.path.insert(0, "tests/cli/lib")
from checks import check, finite, read_jsonl
rows = read_jsonl(sys.argv[1])
check(len(rows) >= 2, f"{len(rows)} evaluations, expected at least 2")
check(all(finite(r["train_loss"]) for r in rows), f"non-finite train loss: {rows}")
check(rows[-1]["train_loss"] < rows[0]["train_loss"] - 0.1,
      f"train loss did not fall by 0.1: {rows[0]['train_loss']} -> {rows[-1]['train_loss']}")
PY
# Resuming a token-file run works like any other.
"$ember" train "${short[@]}" --set run.dir="$w/res" --set data.path="$w/all.bin" \
  --set train.max_steps=6 >/dev/null
"$ember" train --resume "$w/res" --set train.max_steps=15 >/dev/null
python3 - "$w/res/metrics.jsonl" "$w/onebin/metrics.jsonl" <<'PY'
import sys
sys.path.insert(0, "tests/cli/lib")
from checks import compare_metrics, read_jsonl
compare_metrics(read_jsonl(sys.argv[1]), read_jsonl(sys.argv[2]), 0.0, "resumed vs uninterrupted")
PY

# Errors: exit 2 and the key named; exit 1 for a corrupt token file.
check() {
  local want_status="$1" want="$2"
  shift 2
  set +e
  "$ember" train --config configs/debug.toml --set run.dir="$w/err" "$@" >/dev/null 2>"$w/stderr"
  local status=$?
  set -e
  [[ $status == "$want_status" ]] || fail "$*: exit $status, expected $want_status: $(cat "$w/stderr")"
  grep -qF -- "$want" "$w/stderr" || fail "$*: stderr $(cat "$w/stderr"), expected '$want'"
  [[ $(wc -l <"$w/stderr") == 1 ]] || fail "$*: more than one line: $(cat "$w/stderr")"
  [[ ! -e "$w/err" ]] || fail "$*: created run.dir"
}
check 2 "data.train_path is set but data.val_path is not" --set data.train_path="$w/train.bin"
check 2 "data.val_path is set but data.train_path is not" --set data.val_path="$w/val.bin"
check 2 "data.val_path: no such file '$w/none.bin'" \
  --set data.train_path="$w/train.bin" --set data.val_path="$w/none.bin"
check 2 "data: the validation part of $w/val.bin has 534 tokens, expected at least max_length + 1 = 1025" \
  --set data.train_path="$w/train.bin" --set data.val_path="$w/val.bin" \
  --set data.max_length=1024 --set model.context_length=1024
cp "$w/val.bin" "$w/bad.bin"
printf '\x01\x02' | dd of="$w/bad.bin" bs=1 seek=100 conv=notrunc status=none
check 1 "token file $w/bad.bin: checksum mismatch" \
  --set data.train_path="$w/train.bin" --set data.val_path="$w/bad.bin"
head -c 100 "$w/val.bin" >"$w/short.bin"
check 1 "token file $w/short.bin: size 100 does not match the header" --set data.path="$w/short.bin"

# ember batches: a token file gives the text's batches (plain and shuffled).
for args in "--batch-size 8 --max-length 4 --stride 4" \
  "--batch-size 3 --max-length 16 --stride 5 --shuffle --seed 9 --no-drop-last" \
  "--batch-size 2 --max-length 8 --stride 8 --shuffle --num-workers 2"; do
  # shellcheck disable=SC2086
  a="$("$ember" batches --input "$text" $args)"
  # shellcheck disable=SC2086
  b="$("$ember" batches --input "$w/all.bin" $args)"
  [[ -n "$a" && "$a" == "$b" ]] || fail "batches $args: token file differs from text"
done
echo "ok: token files train and batch exactly as the text"
