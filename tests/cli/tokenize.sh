#!/usr/bin/env bash
# `ember tokenize` / `ember decode`: the CLI contract of issue 2 (exact output
# bytes, exit statuses 0/1/2, one-line errors naming what is wrong) and the
# token-file formats bin16/bin32.
set -euo pipefail
ember="$1"
src="$2"
verdict="$src/data/the-verdict.txt"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
# expect STATUS PATTERN -- command...: exit status and a one-line stderr
# matching PATTERN (grep -E).
expect() {
  local want="$1" pattern="$2"
  shift 3
  local got=0
  "$@" >"$tmp/out" 2>"$tmp/err" || got=$?
  [[ "$got" == "$want" ]] || fail "$* exited $got, expected $want; stderr: $(cat "$tmp/err")"
  [[ "$(wc -l <"$tmp/err")" -eq 1 ]] || fail "$*: stderr is not one line: $(cat "$tmp/err")"
  grep -Eq -- "$pattern" "$tmp/err" || fail "$*: stderr '$(cat "$tmp/err")' does not match '$pattern'"
}

# Exact output: ids separated by single spaces, then one newline.
[[ "$(printf 'hello world' | "$ember" tokenize | od -An -c | tr -s ' ')" == " 3 1 3 7 3 9 9 5 \n" ]] ||
  fail "hello world output bytes"
printf 'hello world' | "$ember" tokenize --input - >"$tmp/hw"
printf '31373 995\n' | cmp -s - "$tmp/hw" || fail "--input - output"
printf '' | "$ember" tokenize >"$tmp/empty"
printf '\n' | cmp -s - "$tmp/empty" || fail "empty input should print one newline"

# the-verdict: 5145 ids, the book's first ones; decode restores every byte.
"$ember" tokenize --input "$verdict" >"$tmp/v.ids"
[[ "$(wc -w <"$tmp/v.ids")" -eq 5145 ]] || fail "the-verdict: $(wc -w <"$tmp/v.ids") ids, expected 5145"
[[ "$(head -c 40 "$tmp/v.ids")" == "40 367 2885 1464 1807 3619 402 271 10899" ]] || fail "the-verdict first ids"
grep -q '  ' "$tmp/v.ids" && fail "double space in ids output"
"$ember" decode --input "$tmp/v.ids" >"$tmp/v.txt"
cmp -s "$verdict" "$tmp/v.txt" || fail "decode(tokenize(the-verdict)) differs"
"$ember" decode <"$tmp/v.ids" | cmp -s "$verdict" - || fail "decode from stdin differs"
"$ember" tokenize --input "$verdict" --output "$tmp/v2.ids"
cmp -s "$tmp/v.ids" "$tmp/v2.ids" || fail "--output ids differ from stdout"

# decode writes the exact bytes, no newline; any whitespace separates ids.
[[ "$(printf '31373\n\t995  ' | "$ember" decode | od -An -c | tr -s ' ')" == " h e l l o w o r l d" ]] ||
  fail "decode adds or loses bytes"

# Threads do not change the ids.
for i in $(seq 30); do cat "$verdict"; done >"$tmp/big.txt"
"$ember" tokenize --threads 1 --input "$tmp/big.txt" >"$tmp/big1"
"$ember" tokenize --threads 2 --input "$tmp/big.txt" >"$tmp/big2"
cmp -s "$tmp/big1" "$tmp/big2" || fail "--threads 2 differs from --threads 1"

# Special tokens.
printf 'a<|endoftext|>b' >"$tmp/special.txt"
expect 1 "special token '<\|endoftext\|>'.*--allowed-special" -- "$ember" tokenize --input "$tmp/special.txt"
[[ "$("$ember" tokenize --allowed-special all <"$tmp/special.txt")" == "64 50256 65" ]] || fail "--allowed-special all"
[[ "$("$ember" tokenize --allowed-special '<|endoftext|>' <"$tmp/special.txt")" == "64 50256 65" ]] ||
  fail "--allowed-special <|endoftext|>"
expect 2 "unknown special token '<\|bogus\|>'" -- "$ember" tokenize --allowed-special '<|bogus|>' --input "$tmp/special.txt"

# Invalid UTF-8: rejected with the offset of the first bad byte.
printf 'abc\xffdef' >"$tmp/bad.txt"
expect 1 "invalid utf-8 at byte 3" -- "$ember" tokenize --input "$tmp/bad.txt"
printf 'caf\xc3\xa9 \xed\xa0\x80' >"$tmp/surrogate.txt"
expect 1 "invalid utf-8 at byte 6" -- "$ember" tokenize --input "$tmp/surrogate.txt"

# Bad ids.
printf '31373 abc 995' >"$tmp/ids"
expect 1 "token 'abc' at index 1 \(byte 6\) is not an id" -- "$ember" decode --input "$tmp/ids"
printf '31373 -5' >"$tmp/ids"
expect 1 "token '-5' at index 1 .*is not an id" -- "$ember" decode --input "$tmp/ids"
printf '1 2 50257' >"$tmp/ids"
expect 1 "id 50257 at index 2 .*outside the vocabulary \(expected 0 to 50256\)" -- "$ember" decode --input "$tmp/ids"
printf '99999999999999999999999' >"$tmp/ids"
expect 1 "id 99999999999999999999999 at index 0 .*outside the vocabulary" -- "$ember" decode --input "$tmp/ids"

# Usage errors exit 2; a missing file exits 1.
expect 2 "format" -- "$ember" tokenize --format csv --input "$verdict"
expect 2 "" -- "$ember" tokenize --no-such-option
expect 1 "read $tmp/missing.txt: no such file" -- "$ember" tokenize --input "$tmp/missing.txt"

# Token files: header + little-endian ids; decode reads them too.
"$ember" tokenize --input "$verdict" --format bin16 --output "$tmp/v16.bin"
"$ember" tokenize --input "$verdict" --format bin32 --output "$tmp/v32.bin"
[[ "$(head -c 8 "$tmp/v16.bin")" == "EMBERTOK" ]] || fail "bin16 magic"
[[ "$(stat -c %s "$tmp/v16.bin")" -eq $((64 + 2 * 5145)) ]] || fail "bin16 size"
[[ "$(stat -c %s "$tmp/v32.bin")" -eq $((64 + 4 * 5145)) ]] || fail "bin32 size"
"$ember" decode --input "$tmp/v16.bin" | cmp -s "$verdict" - || fail "decode of a bin16 file"
"$ember" decode --input "$tmp/v32.bin" | cmp -s "$verdict" - || fail "decode of a bin32 file"
"$ember" tokenize --input "$verdict" --format bin16 | cmp -s "$tmp/v16.bin" - || fail "bin16 to stdout differs"
head -c 1000 "$tmp/v16.bin" >"$tmp/trunc.bin"
expect 1 "size 1000 does not match the header" -- "$ember" decode --input "$tmp/trunc.bin"
echo "ok"
