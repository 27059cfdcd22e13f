#!/usr/bin/env bash
# The elector binary's command line as a user meets it.
set -u
elector=$1
fail=0
check() { # description, expected exit code, command...
  local what=$1 want=$2; shift 2
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" -ne "$want" ]; then echo "FAIL: $what: exit $rc, want $want; output: $out"; fail=1; else echo "ok: $what"; fi
}
check "--help exits 0" 0 "$elector" --help
"$elector" --help | grep -q -- '--version' || { echo "FAIL: --help does not document --version"; fail=1; }
check "--version exits 0" 0 "$elector" --version
"$elector" --version | grep -qE '^elector [0-9]+\.[0-9]+\.[0-9]+ \(commit ' || { echo "FAIL: --version output: $("$elector" --version)"; fail=1; }
check "an unknown flag exits 2" 2 "$elector" --no-such-flag
"$elector" --no-such-flag 2>&1 | grep -q 'unknown flag --no-such-flag' || { echo "FAIL: unknown flag not named"; fail=1; }
check "--help=maybe exits 2" 2 "$elector" --help=maybe
exit $fail
