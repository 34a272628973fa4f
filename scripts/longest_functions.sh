#!/usr/bin/env bash
# The longest functions in src/ (universal-ctags: apt-get install
# universal-ctags), longest first:
#
#   bash scripts/longest_functions.sh            # the ten longest
#   bash scripts/longest_functions.sh -n 25      # the 25 longest
#   bash scripts/longest_functions.sh --max 120  # and fail if one is longer
#
# Lengths count the lines from a function's first line to its closing brace.
# Generated tables (src/text/unicode_table.cpp, if present) are left out.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
count=10
max=0
while (($#)); do
  case "$1" in
    -n) count="$2"; shift 2 ;;
    --max) max="$2"; shift 2 ;;
    *) echo "usage: $0 [-n COUNT] [--max LINES]" >&2; exit 2 ;;
  esac
done
# Without ctags, a check (--max, the CTest test layout.function_length) is
# a skip (77; tests/allowed_skips.txt allows it only where ctags is absent).
command -v ctags >/dev/null || {
  echo "skipped: longest_functions: ctags not found; hint: apt-get install universal-ctags" >&2
  ((max > 0)) && exit 77
  exit 2
}
mapfile -t files < <(git ls-files 'src/*.cpp' 'src/*.hpp' | grep -v 'unicode_table')
table=$(ctags --c++-kinds=fp --kinds-c++=f --fields=+ne -o - "${files[@]}" 2>/dev/null |
  awk -F'\t' '{
    line = ""; end = ""
    for (i = 4; i <= NF; i++) {
      if ($i ~ /^line:/) line = substr($i, 6)
      if ($i ~ /^end:/) end = substr($i, 5)
    }
    if (end != "") printf "%d\t%s:%s\t%s\n", end - line + 1, $2, line, $1
  }' | sort -t$'\t' -k1,1nr)
printf 'lines\twhere\tfunction\n'
head -n "$count" <<<"$table"
if ((max > 0)); then
  over=$(awk -F'\t' -v m="$max" '$1 > m' <<<"$table")
  if [[ -n "$over" ]]; then
    printf '\nlongest_functions: functions over %d lines:\n%s\n' "$max" "$over" >&2
    exit 1
  fi
fi
