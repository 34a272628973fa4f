#!/usr/bin/env bash
# Table-driven bad input (issue 6): each case runs the real binary and checks
# exit status 1 or 2 (never 0, never a signal), exactly one stderr line
# `ember: error: ...` matching a regex that names the problem and where it is,
# no stack trace, and that an earlier run's files in run.dir are unchanged.
#   bash bad_input.sh <ember> <source-dir>
set -uo pipefail
ember="$1"
src="$2"
cd "$src" || exit 1
w="$(mktemp -d)"
trap 'rm -rf "$w"' EXIT

# An earlier run every train case points at (never to be modified).
pre="$w/pre"
mkdir -p "$pre"
printf '[run]\ndir = "x"\n' >"$pre/config.toml"
printf '{"step":1}\n' >"$pre/metrics.jsonl"
head -c 4096 /dev/urandom >"$pre/checkpoint.pt"
snap() { (cd "$pre" && find . -type f -exec sha256sum {} + | sort); }
before="$(snap)"

# Inputs.
: >"$w/empty.txt"
mkdir "$w/dir.txt"
printf 'I HAD always thought Jack Gisburn rather a cheap genius.\n' >"$w/tiny.txt"
printf 'ab\xe2\x82' >"$w/trunc.txt"        # truncated 3-byte sequence at byte 2
printf 'ab\xc0\xaf' >"$w/overlong.txt"     # overlong '/' at byte 2
printf 'abc\x80' >"$w/cont.txt"            # lone continuation byte at 3
printf 'abcd\xed\xa0\x80' >"$w/surr.txt"   # encoded surrogate U+D800 at 4
printf '[data]\nstride = [1\n' >"$w/syntax.toml"
printf '[data]\nbatch_size = 2\nbatch_size = 3\n' >"$w/dup.toml"
printf '[data]\nbatch_sise = 2\n' >"$w/unknown.toml"
printf '[data]\nbatch_size = "two"\n' >"$w/type.toml"
printf '31373 abc 995' >"$w/ids_nan"
printf '31373 -5' >"$w/ids_neg"
printf '1 2 50257' >"$w/ids_big"
printf 'not a file' >"$w/afile"

n=0
fails=0
# case <regex> <args...>: run ember with the args; train cases get
# run.dir=$pre unless they name their own. With RSS_MAX_KB set (as
# `RSS_MAX_KB=N case_ ...`), the peak resident set (/usr/bin/time's maximum
# resident set size) must also stay under N KB.
case_() {
  local re="$1"
  shift
  n=$((n + 1))
  local timer=()
  [[ -n ${RSS_MAX_KB:-} ]] && timer=(/usr/bin/time -f %M -o "$w/rss")
  "${timer[@]}" "$ember" "$@" >"$w/out" 2>"$w/err" </dev/null
  local st=$?
  local why=""
  if [[ $st != 1 && $st != 2 ]]; then why="status $st (expected 1 or 2)"
  elif [[ -n ${RSS_MAX_KB:-} ]] && (($(tail -1 "$w/rss") > RSS_MAX_KB)); then
    why="peak resident set $(tail -1 "$w/rss") KB (expected under $RSS_MAX_KB KB)"
  elif [[ $(wc -l <"$w/err") != 1 ]]; then why="stderr is not one line"
  elif ! grep -qE "^ember: error: " "$w/err"; then why="no 'ember: error:' prefix"
  elif ! grep -qE -- "$re" "$w/err"; then why="message does not match /$re/"
  elif grep -qE "frame #|Exception raised from|terminate called|Traceback" "$w/err"; then why="stack trace"
  elif [[ "$(snap)" != "$before" ]]; then why="the earlier run in run.dir was modified"
  fi
  if [[ -n $why ]]; then
    fails=$((fails + 1))
    echo "FAIL case $n: $why: ember $*"
    sed 's/^/  stderr: /' "$w/err" | head -5
  fi
}
T() { local re="$1"; shift; case_ "$re" train --set run.dir="$pre" "$@"; }

# --- inputs: missing, empty, directory, invalid UTF-8 ---------------------
case_ "$w/missing.txt: no such file" tokenize --input "$w/missing.txt"
case_ "$w/dir.txt.*(folder|directory)" tokenize --input "$w/dir.txt"
case_ "$w/missing.txt: no such file" batches --input "$w/missing.txt" --batch-size 2 --max-length 4 --stride 4
case_ "batches: $w/empty.txt: the file is empty \(expected .*max_length \+ 1 = 5 tokens" batches --input "$w/empty.txt" --batch-size 2 --max-length 4 --stride 4
case_ "batches: $w/tiny.txt: .*at least max_length \+ 1 tokens \(got 15 tokens" batches --input "$w/tiny.txt" --batch-size 2 --max-length 40 --stride 4
case_ "batches: $w/surr.txt: invalid utf-8 at byte 4" batches --input "$w/surr.txt" --batch-size 2 --max-length 4 --stride 4
case_ "invalid utf-8 at byte 2" tokenize --input "$w/trunc.txt"
case_ "invalid utf-8 at byte 2" tokenize --input "$w/overlong.txt"
case_ "invalid utf-8 at byte 3" tokenize --input "$w/cont.txt"
case_ "invalid utf-8 at byte 4" tokenize --input "$w/surr.txt"
T "data.path.*$w/missing.txt" --set data.path="$w/missing.txt"
T "$w/dir.txt.*(folder|directory)" --set data.path="$w/dir.txt"
T "$w/empty.txt.*0 tokens|$w/empty.txt.*empty" --set data.path="$w/empty.txt"
T "$w/tiny.txt.*13 tokens.*max_length \+ 1" --set data.path="$w/tiny.txt"
T "data.path $w/trunc.txt: invalid UTF-8 at byte offset 2" --set data.path="$w/trunc.txt"
# --- numeric keys: 0, negative, non-numeric, absurdly large ---------------
for key in data.max_length data.stride data.batch_size train.epochs train.eval_iter; do
  T "$key.*out of range.*got 0" --set "$key=0"
  T "$key.*out of range.*got -3" --set "$key=-3"
  T "$key.*wrong type.*got 'ten'" --set "$key=ten"
  T "$key.*(out of range|too large|wrong type)" --set "$key=99999999999999999999"
done
T "data.max_length exceeds model.context_length" --set data.max_length=512
# --- the appendix-D schedule, clipping, accumulation ----------------------
T "train.lr_schedule is not a schedule \(got 'linear', expected constant or cosine\)" --set train.lr_schedule=linear
T "train.warmup_steps and train.warmup_ratio are both set \(got 5 and 0.1\)" --set train.warmup_steps=5 --set train.warmup_ratio=0.1
T "train.warmup_steps out of range \(got -1" --set train.warmup_steps=-1
T "train.warmup_ratio out of range \(got 1.5, expected 0 <= warmup_ratio < 1\)" --set train.warmup_ratio=1.5
T "train.initial_lr out of range \(got -1.0" --set train.initial_lr=-1
T "train.min_lr out of range \(got nan" --set train.min_lr=nan
T "train.grad_clip out of range \(got -0.5, expected a finite number >= 0\)" --set train.grad_clip=-0.5
T "train.grad_clip_after_warmup has the wrong type \(got 'yes', expected boolean\)" --set train.grad_clip_after_warmup=yes
T "train.grad_accum_steps out of range \(got 0, expected 1 to 65536\)" --set train.grad_accum_steps=0
T "train.grad_accum_steps has the wrong type \(got 'two'" --set train.grad_accum_steps=two
T "model.vocab_size: the data has token id 50085" --set model.vocab_size=1000
# --- TOML: syntax (line:column), unknown key, wrong type, duplicate -------
T "$w/syntax.toml:2:[0-9]+: " --config "$w/syntax.toml"
T "$w/dup.toml:3:[0-9]+: .*batch_size" --config "$w/dup.toml"
T "$w/unknown.toml.*unknown key 'data.batch_sise'.*data.batch_size" --config "$w/unknown.toml"
T "$w/type.toml.*data.batch_size has the wrong type" --config "$w/type.toml"
T "--set data.batch_size: .*|--set data.batch_size" --set data.batch_size
T "--set data.path=ab\.\.\.: invalid UTF-8 at byte 12 of the item" --set "$(printf 'data.path=ab\xffc')"
# --- decode: non-numeric, negative, out of vocabulary ---------------------
case_ "token 'abc' at index 1 \(byte 6\) is not an id" decode --input "$w/ids_nan"
case_ "token '-5' at index 1 .*is not an id" decode --input "$w/ids_neg"
case_ "id 50257 at index 2 .*outside the vocabulary" decode --input "$w/ids_big"
# --- checkpoint: garbage given to --resume --------------------------------
case_ "resume $pre|$pre/checkpoint.pt" train --resume "$pre"
# --- run.dir: under a file ------------------------------------------------
case_ "run.dir $w/afile/run: .*not a folder" train --set run.dir="$w/afile/run"
# --- the model: shapes, names, presets (train and forward) ---------------
T "model.emb_dim must be divisible by model.n_heads \(got emb_dim 16, n_heads 3\)" --config configs/debug.toml --set model.n_heads=3
T "model.preset is not a preset \(got 'gpt2-tiny', expected one of: gpt2-small, gpt2-medium, gpt2-large, gpt2-xl" --set model.preset=gpt2-tiny
T "model.norm: unknown norm 'batchnorm' \(expected one of: layernorm, rmsnorm\)" --set model.norm=batchnorm
T "model.attention: unknown attention 'flash' \(expected one of: fused, multihead\)" --config configs/debug.toml --set model.attention=flash
T "model.n_layers out of range \(got -1, expected 0 to 1024\)" --set model.n_layers=-1
F() { local re="$1"; shift; case_ "$re" forward --config configs/debug.toml "$@"; }
F "--ids: rows have different lengths \(row 1 has 2 ids, row 2 has 1\)" --ids "1 2" --ids "3"
F "--ids \(row 1\): token id 50257 is outside the model's vocabulary \(vocab_size 50257\)" --ids "1 50257"
F "--ids \(row 1\): 'x' at character 3 is not a token id" --ids "1 x"
F "--ids: 17 ids per row exceed model.context_length 16" --ids "$(seq -s ' ' 1 17)"
F "--dump: no module named 'trf_blocks.2' \(expected one of: drop_emb, trf_blocks.0.norm1" --ids "1" --dump trf_blocks.2
F "--ids: give at least one row of ids"
case_ "--run: the run's own config describes its model; drop --config and --set" forward --run "$pre" --config configs/debug.toml --ids 1
case_ "generate: give either --prompt or --ids" generate --config configs/debug.toml
G() { local re="$1"; shift; case_ "$re" generate --config configs/debug.toml --ids "1 2" "$@"; }
case_ "--prompt: token id 15496 is outside the model's vocabulary \(vocab_size 1000\)" generate --config configs/debug.toml --set model.vocab_size=1000 --prompt Hello
T "train.sample_prompt: token id 15496 is outside the model's vocabulary \(vocab_size 1000\)" --set model.vocab_size=1000 --set train.sample_prompt=Hello
G "--eos-id: out of range \(got -5, expected a token id >= 0\)" --eos-id -5
G "--temperature: out of range \(got -1, expected >= 0\)" --temperature -1
G "--top-k: out of range \(got -2, expected >= 0; 0 = off\)" --top-k -2
G "--max-new-tokens: out of range \(got -3, expected >= 0\)" --max-new-tokens -3
# --- weight files (--weights, ember export) -----------------------------------
"${EMBER_PYTHON:-/usr/bin/python3}" tests/reference/bad_weights.py "$w"
"$ember" export --config configs/debug.toml --out "$w/debug.safetensors" --format safetensors 2>/dev/null
# export writes weights: it computes nothing, so takes no --precision or --ids
case_ "not expected: bf16 --precision" export --config configs/debug.toml --out "$w/x.pth" --precision bf16
case_ "not expected: 3 --ids" export --config configs/debug.toml --out "$w/x.pth" --ids 3
W() { local re="$1"; shift; case_ "$re" forward --config configs/debug.toml --ids 1 "$@"; }
W "$w/st_short: neither a PyTorch state dict \(.pth, a zip\) nor safetensors" --weights "$w/st_short"
W "$w/not_weights: neither a PyTorch state dict" --weights "$w/not_weights"
W "$w/st_len: not a safetensors file: the header length \(bytes 0-7\) says 1000 bytes, but 2 follow" --weights "$w/st_len"
W "$w/st_json: the JSON header \(bytes 8-17\) is not valid JSON at byte 18" --weights "$w/st_json"
W "$w/st_number: the JSON header \(bytes 8-20\) cannot be read: .*number overflow" --weights "$w/st_number"
W "$w/st_offsets: tensor 'tok_emb.weight': data_offsets \[0, 8\] lie outside the 4 bytes of data" --weights "$w/st_offsets"
W "$w/st_dtype: tensor 'tok_emb.weight': dtype \"F8_E4M3\" is not one ember reads" --weights "$w/st_dtype"
W "$w/st_size: tensor 'tok_emb.weight': shape \[3\] of F32 needs 12 bytes, data_offsets \[0, 8\] hold 8" --weights "$w/st_size"
W "$w/st_overlap: tensors 'a' and 'b' overlap in the data \(bytes 0-8 and 4-12\)" --weights "$w/st_overlap"
W "$w/st_dup: key 'a' appears twice in the header" --weights "$w/st_dup"
W "$w/st_missing: 'tok_emb.weight' has shape \[1\] in the file, the model's is \[50257, 16\]" --weights "$w/st_missing"
W "$w/missing.pth: no such file" --weights "$w/missing.pth"
T "--init-from: $w/st_len: not a safetensors file" --init-from "$w/st_len"
case_ "--init-from: a resumed run continues from its checkpoint" train --resume "$pre" --init-from "$w/debug.safetensors"
W "$w/evil.pth: .*global 'posix.system' is not allowed.*hint: save model.state_dict\(\), not the model" --weights "$w/evil.pth"
W "$w/module.pth: .*global 'torch.nn.modules.linear.Linear' is not allowed" --weights "$w/module.pth"
W "$w/truncated.pth: " --weights "$w/truncated.pth"
W "$w/small.pth: 'tok_emb.weight' has shape \[4, 4\] in the file, the model's is \[50257, 16\]" --weights "$w/small.pth"
# Hostile files (issue 22): a header nested 100,000 deep (dump() of it
# overflowed the stack); a 48 MiB pickle of None inside a dict (4.8 GB
# resident from 32 MB before its objects were capped).
RSS_MAX_KB=614400 W "$w/st_deep: the JSON header \(bytes 8-200015\) nests deeper than 64 levels at byte 77" --weights "$w/st_deep"
RSS_MAX_KB=1228800 W "$w/nones.pth: 'archive/data.pkl' byte [0-9]+: the pickle makes more than 2097152 objects" --weights "$w/nones.pth"
W "$w/debug.safetensors: 14 keys the model does not have: trf_blocks.1.att.W_key.weight, .* and 6 more; hint: check model.n_layers" --weights "$w/debug.safetensors" --set model.n_layers=1
W "$w/debug.safetensors: missing 6 of the model's parameters: trf_blocks.0.att.W_key.bias, " --weights "$w/debug.safetensors" --set model.qkv_bias=true
W "$w/debug.safetensors: out_head.weight differs from tok_emb.weight, but the model ties them" --weights "$w/debug.safetensors" --set model.tie_weights=true
case_ "--weights: give either --run or --weights, not both" forward --run "$pre" --weights "$w/debug.safetensors" --ids 1
case_ "hf-safetensors export: out_head.weight differs from tok_emb.weight" export --config configs/debug.toml --out "$w/hf.safetensors" --format hf-safetensors

echo "bad input: $n cases, $fails failed"
[[ $fails == 0 ]]
