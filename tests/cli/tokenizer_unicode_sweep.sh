#!/usr/bin/env bash
# Every code point U+0000..U+10FFFF (but surrogates) in class-revealing probes,
# against tiktoken@1.0.22. Fails on any divergence: there is no list of
# tolerated code points (letters and numbers new in Unicode 15.1/16.0 come from
# the build-time table, docs/tokenizer.md). Skips (77) without node.
set -euo pipefail
ember="$1"
src="$2"
command -v node >/dev/null || { echo "skipped: tokenizer_unicode_sweep (tiktoken oracle): node not found (apt install nodejs)"; exit 77; }
[[ -f "$src/node_modules/tiktoken/package.json" ]] || { echo "skipped: tokenizer_unicode_sweep (tiktoken oracle): $src/node_modules/tiktoken missing (run scripts/setup.sh)"; exit 77; }
exec node "$src/tests/reference/differential.js" sweep "$ember"
