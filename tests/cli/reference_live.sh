#!/usr/bin/env bash
# Regenerates the PyTorch (and tiktoken) reference files into a temp folder
# and diffs them against the committed tests/golden/ ones, so drift in
# PyTorch or in the generators is caught. Skips (77) without Debian's
# python3-torch, or without Node's tiktoken (the token-id leg).
#   bash tests/cli/reference_live.sh <ember> <source-dir>
set -euo pipefail
src="$2"
source "$(dirname "${BASH_SOURCE[0]}")/lib/needs.sh"
need_torch "reference_live (PyTorch goldens regenerated live)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$py" "$src/tests/reference/gen_reference.py" --out "$tmp"
"$py" "$src/tests/reference/gen_blocks.py" --out "$tmp"
status=0
for f in embedding_weights.txt first_batch_embeddings.txt loader_orders.txt transformer_blocks.txt; do
  # Floats within 1e-6 relative, everything else identical: another CPU's
  # BLAS kernels (or another PyTorch) round differently
  # (tests/cli/lib/compare_goldens.py; tests/cli/golden_tolerance.sh).
  if ! "$py" "$src/tests/cli/lib/compare_goldens.py" "$src/tests/golden/$f" "$tmp/$f"; then
    echo "FAIL: tests/golden/$f differs from a live PyTorch run"
    status=1
  fi
done
# The token ids the goldens start from, from Node's tiktoken. scripts/setup.sh
# installs it, so a run without it is reported as a skip (77), not a pass.
missing=""
command -v node >/dev/null || missing="node not found"
[[ -n "$missing" || -f "$src/node_modules/tiktoken/package.json" ]] ||
  missing="$src/node_modules/tiktoken missing (run scripts/setup.sh)"
[[ -n "$missing" || -f "$src/data/the-verdict.txt" ]] ||
  missing="$src/data/the-verdict.txt missing (run scripts/setup.sh)"
if [[ -z "$missing" ]]; then
  node "$src/tests/reference/gen_verdict_ids.js" "$src/data/the-verdict.txt" "$tmp/ids.txt"
  if ! diff -u "$src/tests/golden/the_verdict_ids.txt" "$tmp/ids.txt" | head -20; then
    echo "FAIL: tests/golden/the_verdict_ids.txt differs from tiktoken"
    status=1
  fi
fi
((status == 0)) || exit 1
if [[ -n "$missing" ]]; then
  echo "skipped: reference_live, its tiktoken leg (the_verdict_ids.txt): $missing; the PyTorch files match"
  exit 77
fi
echo "reference files match a live run (PyTorch and tiktoken)"
