#!/usr/bin/env bash
# Checks examples/monitoring with the real promtool (Debian's prometheus
# package, installed by scripts/install-deps); needs no build. ctest: monitoring.
#   1. alerts.yaml is a valid rule file, and its unit tests pass;
#   2. prometheusrule.yaml holds exactly alerts.yaml's groups;
#   3. the dashboard is JSON, and every PromQL expression in it (panels and
#      label_values() variables, Grafana variables substituted) parses;
#   4. every elector_*/process_*/leader_election_* metric the rules and the
#      dashboard use is one elector exports (names found in operator/).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mon="$root/examples/monitoring"

for tool in promtool python3; do
  command -v "$tool" >/dev/null || { echo "check.sh: $tool not found (scripts/install-deps installs it)" >&2; exit 1; }
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "== promtool check rules examples/monitoring/alerts.yaml"
promtool check rules "$mon/alerts.yaml"

echo "== promtool test rules tests/monitoring/alerts_test.yaml"
(cd "$here" && promtool test rules alerts_test.yaml)

echo "== python3 -m json.tool examples/monitoring/grafana-dashboard.json"
python3 -m json.tool "$mon/grafana-dashboard.json" >/dev/null
echo "  SUCCESS"

echo "== prometheusrule.yaml, dashboard expressions, metric names"
python3 - "$root" "$tmp" <<'PY'
import json, pathlib, re, sys
import yaml  # python3-yaml (a dependency of python3-kubernetes)

root, tmp = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
mon = root / "examples/monitoring"
failures = []

# 2. The PrometheusRule wraps the very same groups.
alerts = yaml.safe_load((mon / "alerts.yaml").read_text())
rule = yaml.safe_load((mon / "prometheusrule.yaml").read_text())
if rule.get("apiVersion") != "monitoring.coreos.com/v1" or rule.get("kind") != "PrometheusRule":
    failures.append("prometheusrule.yaml: not a monitoring.coreos.com/v1 PrometheusRule")
if rule.get("spec", {}).get("groups") != alerts["groups"]:
    failures.append("prometheusrule.yaml: spec.groups differs from alerts.yaml's groups")
(tmp / "prometheusrule-groups.yaml").write_text(yaml.safe_dump({"groups": rule.get("spec", {}).get("groups", [])}))

# 3. Dashboard expressions, as recording rules promtool parses.
dash = json.loads((mon / "grafana-dashboard.json").read_text())
exprs = []  # (where, expr)
def walk(panels):
    for p in panels:
        for t in p.get("targets", []):
            if t.get("expr"):
                exprs.append((f'panel "{p.get("title")}" {t.get("refId")}', t["expr"]))
        walk(p.get("panels", []))
walk(dash.get("panels", []))
for v in dash.get("templating", {}).get("list", []):
    if v.get("type") != "query":
        continue
    q = v.get("query")
    q = q.get("query", "") if isinstance(q, dict) else (q or "")
    m = re.fullmatch(r"\s*label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\)\s*", q, re.S)
    if m:
        exprs.append((f'variable "{v["name"]}"', m.group(1)))
    elif q.strip().startswith("query_result("):
        exprs.append((f'variable "{v["name"]}"', q.strip()[len("query_result("):-1]))
    elif not re.fullmatch(r"\s*(label_names|metrics|label_values)\(.*\)\s*", q):
        failures.append(f'variable "{v["name"]}": unknown query {q!r}')
if len(exprs) < 10:
    failures.append(f"dashboard: only {len(exprs)} expressions found")

def substitute(e):
    # Grafana variables: $__*interval / $__range are durations, the rest are
    # used in regex matchers.
    e = re.sub(r"\$\{?__(rate_)?interval\}?|\$\{?__range\}?", "5m", e)
    e = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:[a-z]+)?\}|\$([A-Za-z_][A-Za-z0-9_]*)", ".*", e)
    return e
rules = []
for i, (where, e) in enumerate(exprs):
    s = substitute(e)
    if "$" in s:
        failures.append(f"{where}: unsubstituted variable in {s!r}")
    rules.append({"record": f"dashboard:expr_{i}", "expr": s})
(tmp / "dashboard-exprs.yaml").write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
(tmp / "dashboard-exprs.where").write_text("".join(f"dashboard:expr_{i}: {w}\n" for i, (w, _) in enumerate(exprs)))

# 4. Metric names against the exporter's source.
source = "\n".join(p.read_text() for p in (root / "operator").rglob("*.cpp"))
known = set(re.findall(r'"((?:elector|process|leader_election)_[a-z0-9_]+)"', source))
for h in re.findall(r'histogram\(\s*"([a-z0-9_]+)"', source):
    known |= {h + "_bucket", h + "_count", h + "_sum"}
known -= set(re.findall(r'histogram\(\s*"([a-z0-9_]+)"', source))  # a histogram has no bare series
used = [(w, e) for w, e in exprs] + [(f'alert {r.get("alert")}', r["expr"])
                                     for g in alerts["groups"] for r in g["rules"]]
names = 0
for where, e in used:
    for name in re.findall(r"\b((?:elector|process|leader_election)_[A-Za-z0-9_]+)\b", e):
        names += 1
        if name not in known:
            failures.append(f"{where}: {name} is not a metric elector exports")
if names == 0 or not known:
    failures.append("no metric names found (source or expressions)")

for f in failures:
    print("  FAILED: " + f, file=sys.stderr)
if failures:
    sys.exit(1)
print(f"  SUCCESS: prometheusrule.yaml matches alerts.yaml; {len(exprs)} dashboard expressions; "
      f"{names} metric references, all exported")
PY

echo "== promtool check rules (prometheusrule.yaml's groups)"
promtool check rules "$tmp/prometheusrule-groups.yaml"
echo "== promtool check rules (every dashboard expression)"
if ! promtool check rules "$tmp/dashboard-exprs.yaml"; then
  cat "$tmp/dashboard-exprs.where" >&2
  exit 1
fi
echo "monitoring: all checks passed"
