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
check "an unexpected argument exits 2" 2 "$elector" run
"$elector" run 2>&1 | grep -q 'unexpected argument "run"' || { echo "FAIL: unexpected argument not named"; fail=1; }
# No cluster configuration anywhere (a private HOME, no $KUBECONFIG, not in
# a pod): one clear line and exit 1, whatever this machine's own ~/.kube holds.
no_config=(env -u KUBECONFIG -u KUBERNETES_SERVICE_HOST -u KUBERNETES_SERVICE_PORT HOME=/nonexistent-elector-home)
check "no cluster configuration exits 1" 1 "${no_config[@]}" "$elector"
"${no_config[@]}" "$elector" 2>&1 | grep -qF 'cannot load the cluster configuration error="no kubeconfig found (tried /nonexistent-elector-home/.kube/config)"' ||
  { echo "FAIL: missing configuration not explained: $("${no_config[@]}" "$elector" 2>&1)"; fail=1; }

# Bad values: exit 2 with one line on stderr that names the flag.
bad_value() { # flag=value
  local flag=${1%%=*}
  check "$1 exits 2" 2 "$elector" "$1"
  err=$("$elector" "$1" 2>&1 >/dev/null)
  case $err in
    "elector: "*"$flag"*) ;;
    *) echo "FAIL: $1: error does not name $flag: $err"; fail=1 ;;
  esac
}
bad_value --kube-api-qps=fast
bad_value --kube-api-burst=0
bad_value --kube-api-timeout=15
bad_value --leader-election-id=Not_A_Name
bad_value --leader-election-namespace=a.b
bad_value --leader-election-lease-duration=-1s
bad_value --leader-election-retry-period=1x
bad_value --metrics-bind-address=8080
bad_value --health-probe-bind-address=1.2.3.4:70000
bad_value --webhook-port=0
bad_value --log-level=verbose
bad_value --log-format=xml
check "renew deadline above lease duration exits 2" 2 "$elector" --leader-election-renew-deadline=20s
"$elector" --leader-election-renew-deadline=20s 2>&1 |
  grep -qF -- '--leader-election-renew-deadline (20s) must be less than --leader-election-lease-duration (15s)' ||
  { echo "FAIL: renew deadline rule message"; fail=1; }

# --help documents every flag.
help=$("$elector" --help)
for flag in kubeconfig context kube-api-qps kube-api-burst kube-api-timeout \
    leader-elect leader-election-id leader-election-namespace leader-election-lease-duration \
    leader-election-renew-deadline leader-election-retry-period metrics-bind-address \
    health-probe-bind-address webhook-host webhook-port webhook-cert-dir log-level log-format help version; do
  grep -qE -- "^  --$flag( value)?\$" <<<"$help" || { echo "FAIL: --help does not document --$flag"; fail=1; }
done
exit $fail
