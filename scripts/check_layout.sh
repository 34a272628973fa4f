#!/usr/bin/env bash
# Checks that the tree keeps its layout (README "Layout"):
# - every source and header lives in an area folder, the same areas in
#   include/ember/, src/ and tests/;
# - areas form layers: a library file (include/, src/) includes ember/<area>/
#   headers of its own area or of lower levels only (tests may use any area);
# - the areas of ember_base (util, text, config) include no LibTorch header.
# Prints each violation as FILE:LINE: what; exits 1 if there is any.
#
#   bash scripts/check_layout.sh [source-dir]
set -euo pipefail
cd "${1:-$(dirname "${BASH_SOURCE[0]}")/..}"

# level of each area; an area may include its own and lower levels.
declare -A level=(
  [util]=0
  [text]=1 [config]=1
  [data]=2 [nn]=2 [checkpoint]=2 [dist]=2
  [run]=3
  [generate]=4
  [train]=5
  [cli]=6
)
torch_free=(util text config)
bad=0
complain() {
  echo "$1" >&2
  bad=1
}

area_of() { # path -> area folder, or "" when not in one
  local p="$1"
  case "$p" in
    include/ember/*/*) p="${p#include/ember/}" ;;
    src/*/*) p="${p#src/}" ;;
    tests/*/*) p="${p#tests/}" ;;
    *) echo ""; return ;;
  esac
  echo "${p%%/*}"
}

while IFS= read -r f; do
  area=$(area_of "$f")
  if [[ -z "$area" ]]; then
    complain "$f: not in an area folder (include/ember/<area>/, src/<area>/)"
    continue
  fi
  if [[ -z "${level[$area]+x}" ]]; then
    complain "$f: unknown area '$area' (known: ${!level[*]}); hint: add it to scripts/check_layout.sh with its level"
    continue
  fi
  [[ "$f" == tests/* ]] && continue
  while IFS=: read -r line inc; do
    [[ -z "$line" ]] && continue
    to="${inc%%/*}"
    if [[ -z "${level[$to]+x}" ]]; then
      complain "$f:$line: includes ember/$inc, outside every area"
    elif ((level[$to] > level[$area])) ||
      { ((level[$to] == level[$area])) && [[ "$to" != "$area" ]]; }; then
      complain "$f:$line: $area (level ${level[$area]}) includes ember/$inc ($to, level ${level[$to]}); a lower area never includes a higher one"
    fi
  done < <(grep -no '^#include [<"]ember/[^>"]*' "$f" | sed -E 's/^([0-9]+):#include [<"]ember\//\1:/')
  for t in "${torch_free[@]}"; do
    if [[ "$area" == "$t" ]]; then
      while IFS= read -r hit; do
        complain "$f:${hit%%:*}: the $area area builds without LibTorch, but includes ${hit#*:}"
      done < <(grep -noE '^#include <(torch|ATen|c10|caffe2)/[^>]*>' "$f" | sed -E 's/#include //')
    fi
  done
done < <(git ls-files 'include/ember/*.hpp' 'include/ember/*.in' 'src/*.cpp' 'src/*.hpp' \
  'tests/*.cpp' 'tests/*.hpp' | grep -vE '^tests/[^/]*$|^tests/(fuzz|reference|sanitizers|golden)/|^tests/dist/dist_worker')

# The same areas in include/ember/, src/ and tests/.
for d in include/ember/*/ src/*/ tests/*/; do
  a=$(basename "$d")
  case "$d" in tests/*) [[ -n "${level[$a]+x}" ]] || continue ;; esac
  [[ -n "${level[$a]+x}" ]] || complain "$d: a folder that is not an area"
done
exit "$bad"
