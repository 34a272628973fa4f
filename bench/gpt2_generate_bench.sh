#!/usr/bin/env bash
# Generation speed, GPT-2 small (a fresh model under torch.manual_seed(123):
# the speed does not depend on the weights), greedy, a 10-token prompt, in
# one run and on the same threads: `ember generate` with its KV cache,
# `ember generate --no-kv-cache`, and the book's generate_text_simple (ch04)
# in PyTorch. All three must produce the same ids. Prints a markdown table
# of new tokens/s over each generation loop (ember's from `--stats`; model
# construction and start-up are shown apart), then the memory bound of a
# cached step: bytes of weights read per token against the read bandwidth
# measured in this run (the sum of a 1 GiB float32 tensor on the same
# threads). The measuring is bench/gpt2_generate_bench.py.
#
#   bash bench/gpt2_generate_bench.sh [ember-binary]
# Environment: THREADS (default 2), NEW (new tokens, default 200)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ember="${1:-$root/build/ember}"
threads="${THREADS:-2}"
new="${NEW:-200}"
py=${EMBER_PYTHON:-/usr/bin/python3}
cd "$root"
w="$(mktemp -d)"
trap 'rm -rf "$w"' EXIT
cat >"$w/gpt2.toml" <<TOML
[data]
path = "the-verdict.txt"
[model]
preset = "gpt2-small"
[train]
seed = 123
threads = $threads
TOML
# "Every effort moves you" and 6 more ids of the-verdict: 10 prompt tokens.
prompt="6109 3626 6100 345 40 367 2885 1464 1807 3619"
PYTHONUNBUFFERED=1 "$py" bench/gpt2_generate_bench.py "$w" "$threads" "$new" "$prompt" "$ember"
