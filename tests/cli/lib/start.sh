# Sourced first by the scripted training tests (tests/cli/train_*.sh), which
# run as `bash SCRIPT <ember-binary> <source-dir>`: strict mode, $ember and
# $src from the arguments, the source folder as working directory, and a
# scratch folder $w removed on exit.
set -euo pipefail
ember="$1"
src="$2"
cd "$src"
w="$(mktemp -d)"
trap 'rm -rf "$w"' EXIT
