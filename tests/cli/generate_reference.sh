#!/usr/bin/env bash
# `ember generate` against the book: a short ember run, then, on its
# checkpoint's weights, the book's ch05 `generate` in PyTorch
# (tests/reference/generate_reference.py: torch.manual_seed(seed), logits of
# the last position, top-k with -inf masking, temperature, softmax,
# torch.multinomial, context cropping). Greedy and seeded sampling must give
# the same new tokens: ember prints their decoding, so the bytes are compared
# with tiktoken's decoding of the reference ids (and the ids are shown when
# they differ), with the KV cache (the default) and without it. 30 new
# tokens with context_length 16 exercise the cropping (the cache's window
# sliding).
# Skips (77) without Debian's python3-torch or Node's tiktoken.
#   bash generate_reference.sh <ember> <source-dir>
source "$(dirname "${BASH_SOURCE[0]}")/lib/start.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/needs.sh"
need_torch "generate_reference (ember generate vs the book)"
need_tiktoken "generate_reference (ember generate vs the book)"
"$ember" train --config configs/debug.toml --set train.max_steps=10 --set run.dir="$w/run" >"$w/train.log"
prompt="Every effort moves you"
n=0
for args in "--temperature 0" "--temperature 1.0 --top-k 5 --seed 123" \
  "--temperature 1.5 --top-k 20 --seed 7" "--temperature 0.7 --seed 1" "--temperature 0 --top-k 3"; do
  # shellcheck disable=SC2086
  "$py" tests/reference/generate_reference.py "$w/run" --prompt "$prompt" --max-new-tokens 30 \
    $args --bytes "$w/ref.bin" >"$w/ref.json"
  printf '\n' >>"$w/ref.bin"  # ember prints a newline after the text
  for cache in "" --no-kv-cache; do
    # shellcheck disable=SC2086
    "$ember" generate --run "$w/run" --prompt "$prompt" --max-new-tokens 30 $args $cache >"$w/ember.out"
    if ! cmp -s "$w/ref.bin" "$w/ember.out"; then
      echo "FAIL: ember generate $args ${cache:-(KV cache)} differs from the book's generate"
      echo "reference ids: $(cat "$w/ref.json")"
      echo "reference text: $(od -c "$w/ref.bin" | head -5)"
      echo "ember text:     $(od -c "$w/ember.out" | head -5)"
      exit 1
    fi
  done
  "$py" -c 'import json, sys; sys.exit(len(json.load(open(sys.argv[1]))["ids"]) != 30)' "$w/ref.json" ||
    { echo "FAIL: the reference did not make 30 tokens: $(cat "$w/ref.json")"; exit 1; }
  n=$((n + 1))
  echo "same 30 tokens, with and without the KV cache: $args"
done
echo "ok: $n settings, ember generate matches the book's generate token for token"
