#!/usr/bin/env bash
# Checks that every C++ file in the tree (but the generated
# include/ember/text/unicode_table.hpp) is formatted as .clang-format says
# (Debian's clang-format 14, which scripts/setup.sh installs). Prints each
# difference as clang-format's own FILE:LINE:COL warning; exits 1 if any.
# To format: bash scripts/check_format.sh --fix
#
#   bash scripts/check_format.sh [--fix] [source-dir]
set -euo pipefail
fix=0
if [[ "${1:-}" == --fix ]]; then
  fix=1
  shift
fi
cd "${1:-$(dirname "${BASH_SOURCE[0]}")/..}"
command -v clang-format >/dev/null || {
  echo "check_format: clang-format not found; hint: apt install clang-format (scripts/setup.sh does)" >&2
  exit 1
}
mapfile -t files < <(git ls-files 'src/*.cpp' 'src/*.hpp' 'include/*.hpp' 'tests/*.cpp' \
  'tests/*.hpp' 'bench/*.cpp' 'bench/*.hpp' 'fuzz/*.cpp' 'fuzz/*.hpp' |
  grep -vx 'include/ember/text/unicode_table.hpp')  # generated (cli.unicode_table_fresh)
((${#files[@]} > 0)) || { echo "check_format: no C++ file found" >&2; exit 1; }
if ((fix)); then
  clang-format -i "${files[@]}"
  echo "formatted ${#files[@]} files"
  exit 0
fi
if ! clang-format --dry-run --Werror "${files[@]}"; then
  echo "FAIL: the files above differ from .clang-format; hint: bash scripts/check_format.sh --fix" >&2
  exit 1
fi
echo "check_format: ${#files[@]} files formatted as .clang-format says"
