#!/usr/bin/env bash
# Fails a finished CTest run that skipped a test not allowed to skip here.
# Reads the JUnit file of `ctest --output-junit FILE` and tests/allowed_skips.txt
# (the policy: which tests may skip in which suite, and why). Prints every
# skipped test with its "skipped: <what>: <why>" line; exits 1 naming each
# skipped test that is not allowed in SUITE, or an allowed one that printed no
# reason, and 2 when the JUnit file is missing or holds no test.
#
#   bash scripts/check_skips.sh JUNIT.xml SUITE   # SUITE: normal, sanitize, gpu
#
# scripts/setup.sh runs it after each CTest run of its `test` job.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if (($# != 2)); then
  sed -n '2,10p' "$0" >&2
  exit 2
fi
exec python3 - "$1" "$2" "$root/tests/allowed_skips.txt" <<'PY'
import sys
import xml.etree.ElementTree as ET

junit, suite, policy = sys.argv[1:4]
allowed = set()
with open(policy) as f:
    for n, line in enumerate(f, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        suites, _, name = line.partition(" ")
        if not name.strip():
            sys.exit(f"check_skips: {policy}:{n}: expected '<suites> <ctest name>' (got {line!r})")
        if suite in suites.split(","):
            allowed.add(name.strip())
try:
    root = ET.parse(junit).getroot()
except (OSError, ET.ParseError) as e:
    print(f"check_skips: cannot read the CTest JUnit file {junit} ({e}); "
          "hint: run ctest with --output-junit", file=sys.stderr)
    sys.exit(2)
cases = root.iter("testcase")
total = 0
skipped = []
for case in cases:
    total += 1
    if case.find("skipped") is not None or case.get("status") == "notrun":
        out = case.findtext("system-out") or ""
        reasons = [l for l in out.splitlines() if l.startswith("skipped: ")]
        skipped.append((case.get("name"), reasons))
if total == 0:
    print(f"check_skips: {junit} holds no test", file=sys.stderr)
    sys.exit(2)
bad = []
for name, reasons in skipped:
    why = reasons[-1] if reasons else "(no 'skipped: <what>: <why>' line in its output)"
    ok = name in allowed and reasons
    print(f"check_skips: {'allowed' if ok else 'NOT ALLOWED'}: {name}: {why}")
    if not ok:
        bad.append(name)
print(f"check_skips: {total} tests, {len(skipped)} skipped, "
      f"{len(skipped) - len(bad)} of them allowed in suite '{suite}' by {policy}")
if bad:
    print(f"check_skips: FAIL: skipped but not allowed in suite '{suite}' "
          f"(fix the cause, or add the test to {policy} with its reason): "
          + "; ".join(bad), file=sys.stderr)
    sys.exit(1)
PY
