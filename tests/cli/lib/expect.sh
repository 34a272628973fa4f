# Sourced by scripted tests after lib/start.sh ($ember, $w): fail, and
# expect_error, which runs `ember ARGS` and requires exit 2 and exactly one
# line on stderr containing WANT.
fail() {
  echo "FAIL: $*"
  exit 1
}
expect_error() { # want-substring ember-args...
  local want="$1" status=0
  shift
  "$ember" "$@" >"$w/out" 2>"$w/err" || status=$?
  [[ "$status" -eq 2 ]] || fail "$*: exit $status, expected 2 ($(cat "$w/err"))"
  [[ "$(wc -l <"$w/err")" -eq 1 ]] || fail "$*: expected one line, got: $(cat "$w/err")"
  grep -qF -- "$want" "$w/err" || fail "$*: expected '$want', got: $(cat "$w/err")"
  echo "ok: $(cat "$w/err")"
}
