#!/usr/bin/env bash
# Regenerates the PyTorch (and tiktoken) reference files into a temp folder
# and diffs them against the committed tests/golden/ ones, so drift in
# PyTorch or in the generators is caught. Skips (77) without Debian's
# python3-torch.   bash tests/cli/reference_live.sh <ember> <source-dir>
set -euo pipefail
src="$2"
py=${EMBER_PYTHON:-/usr/bin/python3}
if ! "$py" -c 'import torch' 2>/dev/null; then
  echo "skipped: $py cannot import torch (apt install python3-torch)"
  exit 77
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$py" "$src/tests/reference/gen_reference.py" --out "$tmp"
status=0
for f in embedding_weights.txt first_batch_embeddings.txt loader_orders.txt; do
  if ! diff -u "$src/tests/golden/$f" "$tmp/$f" | head -40; then
    echo "FAIL: tests/golden/$f differs from a live PyTorch run"
    status=1
  fi
done
# The token ids the goldens start from, when Node's tiktoken is installed.
if command -v node >/dev/null && [[ -f "$src/node_modules/tiktoken/package.json" &&
  -f "$src/data/the-verdict.txt" ]]; then
  node "$src/tests/reference/gen_verdict_ids.js" "$src/data/the-verdict.txt" "$tmp/ids.txt"
  if ! diff -u "$src/tests/golden/the_verdict_ids.txt" "$tmp/ids.txt" | head -20; then
    echo "FAIL: tests/golden/the_verdict_ids.txt differs from tiktoken"
    status=1
  fi
fi
[[ $status -eq 0 ]] && echo "reference files match a live run"
exit $status
