#!/usr/bin/env bash
# The config table in docs/configuration.md lists exactly the keys the code
# knows (issue 13): every key of config_keys() (src/config/config.cpp) has a
# row, and every row is a key the code knows. The code's keys come through the
# CLI: `ember train` writes the resolved config, every key, to
# <run.dir>/config.toml (to_toml walks the same field list as config_keys()).
# A one-step run on configs/debug.toml; fails naming the missing/extra keys.
#   bash docs_config_keys.sh <ember> <source-dir>
source "$(dirname "${BASH_SOURCE[0]}")/lib/start.sh"
doc="docs/configuration.md"

# The code's keys: [section] headers and `key = value` lines of config.toml.
"$ember" train --config configs/debug.toml --set train.max_steps=1 \
  --set run.dir="$w/run" >"$w/log" 2>&1 || {
  echo "ember train failed:"
  tail -5 "$w/log"
  exit 1
}
awk '/^\[[a-z_]+\]$/ { s = substr($0, 2, length($0) - 2); next }
     /^[a-z_]+ = / { if (s == "") { print "key outside a section: " $0 > "/dev/stderr"; exit 1 }
                     print s "." $1 }' "$w/run/config.toml" | sort >"$w/code"

# The documented keys: table rows whose first cell is `section.key`.
sed -nE 's/^\| `([a-z_]+\.[a-z_]+)` \|.*/\1/p' "$doc" | sort >"$w/doc"

# A parse that finds nothing must not pass as "equal".
n_code=$(wc -l <"$w/code")
n_doc=$(wc -l <"$w/doc")
if ((n_code < 10 || n_doc < 10)); then
  echo "too few keys found (code: $n_code in config.toml, docs: $n_doc in $doc)"
  exit 1
fi
dups=$(uniq -d "$w/doc" | paste -sd' ')
missing=$(comm -23 "$w/code" "$w/doc" | paste -sd' ')
extra=$(comm -13 "$w/code" <(sort -u "$w/doc") | paste -sd' ')
status=0
if [[ -n $missing ]]; then
  echo "keys the code knows but $doc does not document (add a row): $missing"
  status=1
fi
if [[ -n $extra ]]; then
  echo "keys $doc documents but the code does not know (remove the row): $extra"
  status=1
fi
if [[ -n $dups ]]; then
  echo "keys documented twice in $doc: $dups"
  status=1
fi
((status == 0)) && echo "docs config keys: the $n_code keys of the code are the $n_doc rows of $doc"
exit "$status"
