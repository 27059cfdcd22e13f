#!/usr/bin/env bash
# Memory and CPU of a Release elector on the local control plane (tests/env),
# to size its container requests and limits. Prints figures; asserts nothing.
#
#   tests/bench/resources.sh [--elector PATH] [--groups "100 1000"] [--window S]
#       [--nodes N] [--burst-percent P] [--qps Q] [--soak S] [--name ENV] [--out DIR]
#
# --qps sets elector's --kube-api-qps (burst twice that); default: elector's
# own default (50). Every group renews its Lease each retryPeriod (2 s here),
# so N groups need about N/2 writes per second.
#
# elector runs without --leader-elect, metrics on 127.0.0.1:0, watching the
# namespace "bench" only. Phases, each measured on elector's pid:
#   idle       CRD installed, no groups: RSS and CPU over --window seconds
#   create N   Deployments (3 replicas) + ElectionGroups up to N groups, with
#              elector running; peak RSS from creation until every group has a
#              leader and 3 Ready candidates (VmHWM, reset by clear_refs, and a
#              10 Hz VmRSS sampler)
#   steady N   settle 15 s, then RSS and CPU (utime+stime) over --window
#   burst      --burst-percent of the leader pods deleted at once; peak RSS and
#              CPU until every group again has a leader and 3 Ready candidates
#   restart    elector restarted with every group present (a pod restart's
#              cold start): time to ready, peak RSS (VmHWM), then a steady window
#   soak       with --soak S: RSS every 60 s for S more seconds (growth check)
# Every RSS line also shows elector's process_resident_memory_bytes, scraped
# just before /proc is read. The environment is torn down on any exit.
# elector inherits the environment: it limits glibc to two malloc arenas
# unless $MALLOC_ARENA_MAX says otherwise (MALLOC_ARENA_MAX=16
# tests/bench/resources.sh measures it with glibc's default for 2 cores).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)

elector="$root/build/bench/operator/elector"
levels="100 1000"
window=60
nodes=4
burst_percent=5
name=rss
out=
qps=
soak=0
while [ $# -gt 0 ]; do
  case "$1" in
    --elector) elector=$2; shift 2 ;;
    --groups) levels=$2; shift 2 ;;
    --window) window=$2; shift 2 ;;
    --nodes) nodes=$2; shift 2 ;;
    --burst-percent) burst_percent=$2; shift 2 ;;
    --qps) qps=$2; shift 2 ;;
    --soak) soak=$2; shift 2 ;;
    --name) name=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; exit 0 ;;
    *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -x "$elector" ] || { echo "no elector at $elector (build target elector in build/bench)" >&2; exit 2; }
[ -n "$out" ] || out=$(mktemp -d /tmp/elector-resources.XXXXXX)
mkdir -p "$out"
ns=bench
tick=$(getconf CLK_TCK)

env_dir=
elector_pid=
sampler_pid=
cleanup() {
  local rc=$?
  set +e
  [ -n "$sampler_pid" ] && kill "$sampler_pid" 2>/dev/null && wait "$sampler_pid" 2>/dev/null
  stop_elector
  [ -n "$env_dir" ] && [ -f "$env_dir/elector.log" ] && cp "$env_dir/elector.log" "$out/" 2>/dev/null
  [ -n "$env_dir" ] && "$root/tests/env/down" "$name" >/dev/null 2>&1
  echo "logs and samples in $out" >&2
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

note() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
mono() { awk '{print $1}' /proc/uptime; }
kubectl() { "$bin/kubectl" --kubeconfig "$env_dir/kubeconfig" --request-timeout=60s "$@"; }

# --- elector's process ------------------------------------------------------
status_kib() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$elector_pid/status"; }
cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$elector_pid/stat"; }  # utime + stime
reset_hwm() { echo 5 > "/proc/$elector_pid/clear_refs"; }
metrics_port=
scrape_rss() {
  curl -fsS --max-time 5 "http://127.0.0.1:$metrics_port/metrics" |
    awk '$1 == "process_resident_memory_bytes" {printf "%.0f", $2 / 1024}'
}
# One line: VmRSS, VmHWM, metric (KiB), threads, fds.
mem_line() {
  local metric rss hwm
  metric=$(scrape_rss || true); metric=${metric:-0}
  rss=$(status_kib VmRSS); hwm=$(status_kib VmHWM)
  printf 'VmRSS %6.1f MiB  VmHWM %6.1f MiB  metric %6.1f MiB (metric-VmRSS %+d KiB)  threads %s  fds %s' \
    "$(bc -l <<< "$rss/1024")" "$(bc -l <<< "$hwm/1024")" "$(bc -l <<< "$metric/1024")" $((metric - rss)) \
    "$(status_kib Threads)" "$(ls "/proc/$elector_pid/fd" | wc -l)"
}
# Peak sampled VmRSS (MiB) between two monotonic times.
sampled_peak() {
  awk -v a="$1" -v b="$2" -v p="$elector_pid" '$1 >= a && $1 <= b && $2 == p && $3 > m {m = $3} END {printf "%.1f", m / 1024}' \
    "$out/rss-samples.txt"
}
# Requests elector has sent, except watches (a counter of its metrics).
requests_sent() {
  curl -fsS --max-time 5 "http://127.0.0.1:$metrics_port/metrics" |
    awk '$1 ~ /^elector_api_requests_total\{/ && $1 !~ /verb="watch"/ {n += $2} END {printf "%d", n}'
}
# Age of the Leases' renewTime: median and oldest (seconds).
lease_ages() {
  kubectl get leases -n "$ns" -o json | python3 -c '
import datetime, json, sys
now = datetime.datetime.now(datetime.timezone.utc)
ages = sorted((now - datetime.datetime.strptime(l["spec"]["renewTime"], "%Y-%m-%dT%H:%M:%S.%fZ")
               .replace(tzinfo=datetime.timezone.utc)).total_seconds()
              for l in json.load(sys.stdin)["items"] if l["spec"].get("renewTime"))
print("Lease renew age p50 %.1f s max %.1f s" % (ages[len(ages) // 2], ages[-1]) if ages else "no Leases")'
}
millicores() { bc -l <<< "scale=1; ($2 - $1) * 1000 / $tick / $3"; }

start_elector() {
  setsid "$elector" --kubeconfig "$env_dir/kubeconfig" --namespace "$ns" \
    --metrics-bind-address 127.0.0.1:0 --leader-api-bind-address 0 --health-probe-bind-address 0 \
    --webhook-cert-dir "$env_dir/no-webhook-certs" ${qps:+--kube-api-qps "$qps" --kube-api-burst $((2 * qps))} \
    >> "$env_dir/elector.log" 2>&1 < /dev/null &
  elector_pid=$!
  local deadline=$((SECONDS + 30))
  metrics_port=
  until [ -n "$metrics_port" ]; do
    kill -0 "$elector_pid" 2>/dev/null || { echo "elector exited; see $env_dir/elector.log" >&2; exit 1; }
    [ $SECONDS -lt $deadline ] || { echo "elector's metrics address not logged within 30 s" >&2; exit 1; }
    sleep 0.1
    metrics_port=$(grep -a "serving the metrics on 127.0.0.1:" "$env_dir/elector.log" | tail -n 1 |
      sed -E 's/.*serving the metrics on 127\.0\.0\.1:([0-9]+).*/\1/') || true
    # The line of an earlier run (restart) must not count.
    if [ -n "$metrics_port" ] && ! curl -fsS --max-time 2 "http://127.0.0.1:$metrics_port/metrics" >/dev/null 2>&1; then
      metrics_port=
    fi
  done
}
stop_elector() {
  [ -n "$elector_pid" ] || return 0
  kill -TERM "$elector_pid" 2>/dev/null || { elector_pid=; return 0; }
  for _ in $(seq 150); do kill -0 "$elector_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$elector_pid" 2>/dev/null || true
  wait "$elector_pid" 2>/dev/null || true
  elector_pid=
}
wait_ready() {
  local deadline=$((SECONDS + $1))
  until curl -fsS --max-time 2 "http://127.0.0.1:$metrics_port/metrics" 2>/dev/null | grep -q '^elector_ready 1'; do
    [ $SECONDS -lt $deadline ] || { echo "elector not ready within $1 s" >&2; exit 1; }
    sleep 0.1
  done
}

# --- the groups -------------------------------------------------------------
group_yaml() { # index
  local g
  g=$(printf 'g-%04d' "$1")
  cat <<EOF
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: $g, namespace: $ns, labels: {app: $g, team: platform}}
spec:
  replicas: 3
  selector: {matchLabels: {app: $g}}
  template:
    metadata:
      labels: {app: $g, tier: backend}
      annotations: {prometheus.io/scrape: "true", prometheus.io/port: "9090"}
    spec:
      containers:
      - name: app
        image: registry.example/team/app:1.27.3
        args: [--config, /etc/app/config.yaml]
        ports: [{containerPort: 8080, name: http}, {containerPort: 9090, name: metrics}]
        env: [{name: MODE, value: production}, {name: REGION, value: eu-west}]
        resources: {requests: {cpu: 10m, memory: 64Mi}, limits: {memory: 256Mi}}  # 4 nodes of 64 cores hold 3,000
        readinessProbe: {httpGet: {path: /ready, port: 8080}, periodSeconds: 5}
        livenessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 10}
---
apiVersion: elector.dev/v1alpha1
kind: ElectionGroup
metadata: {name: $g, namespace: $ns}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: $g}
  leaseDuration: 15s
  renewDeadline: 10s
  retryPeriod: 2s
EOF
}
# Groups with a leader and 3 of 3 Ready candidates (from the API).
groups_led() {
  kubectl get electiongroups -n "$ns" -o json | python3 -c '
import json, sys
items = json.load(sys.stdin)["items"]
led = sum(1 for g in items
          if g.get("status", {}).get("leader")
          and g["status"].get("candidates", {}).get("ready") == 3
          and g["status"].get("candidates", {}).get("total") == 3)
print(led, len(items))'
}
wait_led() { # groups timeout-seconds
  local deadline=$((SECONDS + $2)) led total
  while :; do
    read -r led total < <(groups_led)
    [ "$led" -eq "$1" ] && [ "$total" -eq "$1" ] && return 0
    [ $SECONDS -lt $deadline ] || { note "only $led of $1 groups led after $2 s"; return 1; }
    kill -0 "$elector_pid" 2>/dev/null || { echo "elector exited" >&2; exit 1; }
    sleep 2
  done
}

steady_window() { # label
  sleep 15
  local c0 c1 t0 t1 r0 r1
  r0=$(requests_sent); c0=$(cpu_ticks); t0=$(mono)
  sleep "$window"
  c1=$(cpu_ticks); t1=$(mono); r1=$(requests_sent)
  printf '%-22s %s  CPU %6s mcores over %.0f s, %.1f requests/s; %s\n' "$1" "$(mem_line)" \
    "$(millicores "$c0" "$c1" "$(bc -l <<< "$t1 - $t0")")" "$(bc -l <<< "$t1 - $t0")" \
    "$(bc -l <<< "($r1 - $r0) / ($t1 - $t0)")" "$(lease_ages)" | tee -a "$out/figures.txt"
}

# --- run --------------------------------------------------------------------
note "starting the control plane $name ($nodes nodes)"
env_dir=$("$root/tests/env/up" --name "$name" --nodes "$nodes" --owner-pid $$ | tail -n 1)
bin=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bin_dir"])' "$env_dir/env.json")
kubectl apply -f "$root/crds/elector.dev_electiongroups.yaml" >/dev/null
kubectl wait --for condition=established crd/electiongroups.elector.dev --timeout=60s >/dev/null
kubectl create namespace "$ns" >/dev/null

{
  echo "elector resources: $("$elector" --version) ($elector)"
  echo "elector flags: --kube-api-qps ${qps:-default}"
  echo "control plane: kube-apiserver 1.20.2, etcd on tmpfs, $nodes simulated nodes; $(nproc) cores;" \
    "load average $(cut -d' ' -f1-3 /proc/loadavg); window ${window} s"
} | tee "$out/figures.txt"

start_elector
echo "$elector_pid" > "$env_dir/elector.pid"
# 10 Hz VmRSS sampler: "monotonic pid KiB" (follows elector across the restart).
python3 - "$out/rss-samples.txt" "$env_dir/elector.pid" > /dev/null 2>&1 <<'EOF' &
import sys, time
out, pidfile = sys.argv[1], sys.argv[2]
with open(out, "a", buffering=1) as f:
    while True:
        try:
            pid = open(pidfile).read().strip()
            for line in open(f"/proc/{pid}/status"):
                if line.startswith("VmRSS:"):
                    f.write(f"{time.clock_gettime(time.CLOCK_BOOTTIME):.2f} {pid} {line.split()[1]}\n")
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
EOF
sampler_pid=$!
t=$(mono); wait_ready 60
printf '%-22s ready %.2f s after start, %s\n' "idle: start" "$(bc -l <<< "$(mono) - $t")" "$(mem_line)" | tee -a "$out/figures.txt"
steady_window "idle (0 groups)"

created=0
for level in $levels; do
  reset_hwm
  c0=$(cpu_ticks); t0=$(mono)
  note "creating groups $created..$((level - 1))"
  for ((start = created; start < level; start += 50)); do
    for ((i = start; i < start + 50 && i < level; i++)); do group_yaml "$i"; done > "$out/batch.yaml"
    kubectl apply -f "$out/batch.yaml" >/dev/null
  done
  t_created=$(mono)
  wait_led "$level" $((120 + level))
  c1=$(cpu_ticks); t1=$(mono)
  created=$level
  printf '%-22s created in %.0f s, all led after %.0f s; peak: VmHWM %.1f MiB, sampled %s MiB; CPU %s mcores over the phase\n' \
    "create $level" "$(bc -l <<< "$t_created - $t0")" "$(bc -l <<< "$t1 - $t0")" \
    "$(bc -l <<< "$(status_kib VmHWM)/1024")" "$(sampled_peak "$t0" "$t1")" \
    "$(millicores "$c0" "$c1" "$(bc -l <<< "$t1 - $t0")")" | tee -a "$out/figures.txt"
  steady_window "steady $level groups"
done
pods=$(kubectl get pods -n "$ns" --no-headers | wc -l)

# Burst: a share of the leaders deleted at once.
n=$(( (created * burst_percent + 99) / 100 ))
mapfile -t leaders < <(kubectl get electiongroups -n "$ns" -o json | python3 -c '
import json, sys
for g in json.load(sys.stdin)["items"][:int(sys.argv[1])]: print(g["status"]["leader"])' "$n")
reset_hwm
c0=$(cpu_ticks); t0=$(mono)
kubectl delete pods -n "$ns" --wait=false "${leaders[@]}" >/dev/null
t_del=$(mono)
wait_led "$created" 300
c1=$(cpu_ticks); t1=$(mono)
printf '%-22s %d leaders deleted in %.1f s, all led again after %.1f s; peak: VmHWM %.1f MiB, sampled %s MiB; CPU %s mcores over %.1f s\n' \
  "burst ${burst_percent}%" "$n" "$(bc -l <<< "$t_del - $t0")" "$(bc -l <<< "$t1 - $t0")" \
  "$(bc -l <<< "$(status_kib VmHWM)/1024")" "$(sampled_peak "$t0" "$t1")" \
  "$(millicores "$c0" "$c1" "$(bc -l <<< "$t1 - $t0")")" "$(bc -l <<< "$t1 - $t0")" | tee -a "$out/figures.txt"
steady_window "after burst"

# Restart: a fresh process with every group present.
stop_elector
t0=$(mono)
start_elector
echo "$elector_pid" > "$env_dir/elector.pid"
wait_ready 120
t_ready=$(mono)
sleep 30
printf '%-22s ready after %.2f s; after 30 s: %s\n' "restart ($created groups)" "$(bc -l <<< "$t_ready - $t0")" \
  "$(mem_line)" | tee -a "$out/figures.txt"
steady_window "steady after restart"
for ((s = 60; s <= soak; s += 60)); do
  sleep 60
  kill -0 "$elector_pid" 2>/dev/null || { echo "elector exited; see $out/elector.log" >&2; exit 1; }
  printf '%-22s %s\n' "soak +${s} s" "$(mem_line)" | tee -a "$out/figures.txt"
done
echo "pods in $ns: $pods; samples of VmRSS: $out/rss-samples.txt" | tee -a "$out/figures.txt"
