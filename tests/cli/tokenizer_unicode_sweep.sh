#!/usr/bin/env bash
# Every code point U+0000..U+10FFFF (but surrogates) in class-revealing probes,
# against tiktoken@1.0.22. Fails on any divergence: there is no list of
# tolerated code points (letters and numbers new in Unicode 15.1/16.0 come from
# the build-time table, docs/tokenizer.md). Skips (77) without node.
set -euo pipefail
ember="$1"
src="$2"
source "$(dirname "${BASH_SOURCE[0]}")/lib/needs.sh"
need_tiktoken "tokenizer_unicode_sweep (tiktoken oracle)"
exec node "$src/tests/reference/differential.js" sweep "$ember"
