#!/usr/bin/env bash
# Differential test against tiktoken@1.0.22 (the oracle, via Node): 10,000
# generated strings (fixed seed) mixing scripts, every Unicode whitespace kind
# and runs of them, digit ladders, punctuation, contractions, combining marks,
# emoji (ZWJ, astral) and <|endoftext|>. Skips (77) without node or tiktoken.
set -euo pipefail
ember="$1"
src="$2"
source "$(dirname "${BASH_SOURCE[0]}")/lib/needs.sh"
need_tiktoken "tokenizer_oracle_strings (tiktoken oracle)"
exec node "$src/tests/reference/differential.js" strings "$ember" 10000 20261128
