#!/usr/bin/env bash
# Differential test against tiktoken@1.0.22 (the oracle, via Node): whole
# outputs of `ember tokenize` on the-verdict and on every bench corpus
# ($EMBER_BENCH_DIR, else ../shared/data/bench beside the source), at 1 and 2
# threads. Skips (77) without node or node_modules/tiktoken.
set -euo pipefail
ember="$1"
src="$2"
source "$(dirname "${BASH_SOURCE[0]}")/lib/needs.sh"
need_tiktoken "tokenizer_oracle_corpora (tiktoken oracle)"
files=("$src/data/the-verdict.txt")
bench="${EMBER_BENCH_DIR:-$src/../shared/data/bench}"
if [[ -d "$bench" ]]; then
  for f in "$bench"/*.txt; do [[ -f "$f" ]] && files+=("$f"); done
else
  echo "note: no bench corpora at $bench; comparing the-verdict only"
fi
exec node "$src/tests/reference/differential.js" corpora "$ember" "${files[@]}"
