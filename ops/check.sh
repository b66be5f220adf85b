#!/usr/bin/env bash
# Checks the operations files with their ecosystems' tools:
#   - the alert rules (promtool check rules) and their unit tests (promtool test rules),
#   - the example Prometheus config (promtool check config),
#   - the Grafana dashboard: valid JSON, and every panel query valid PromQL (promtool checks it as
#     a recording rule, Grafana's variables replaced),
#   - that the dashboard, the rules and their tests name only metrics and labels arigate exports
#     (the Rust test metrics::tests::ops_files_name_only_exported_metrics_and_labels).
# Needs promtool (Debian package `prometheus`) and jq; .ci/run installs both.
set -euo pipefail
cd "$(dirname "$0")"

need() {
  command -v "$1" >/dev/null 2>&1 || {
    echo "ops/check.sh: $1 is missing (Debian: apt-get install --no-install-recommends $2)" >&2
    exit 1
  }
}
need promtool prometheus
need jq jq

echo "== promtool check rules"
promtool check rules prometheus/alerts.yml
echo "== promtool test rules"
promtool test rules prometheus/alerts_test.yml
echo "== promtool check config"
promtool check config prometheus/prometheus.yml

echo "== dashboard queries"
dashboard=grafana/arigate-dashboard.json
jq -e '(.panels | length) > 0 and (.templating.list | map(.type) | index("datasource") != null)' "$dashboard" >/dev/null \
  || { echo "ops/check.sh: $dashboard has no panels or no datasource variable" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
{
  echo "groups:"
  echo "  - name: dashboard-queries"
  echo "    rules:"
  jq -r '[.. | objects | select(has("expr")) | .expr]
         | to_entries[]
         | "      - record: dashboard:query_\(.key)\n        expr: \(.value
             | gsub("\\$__rate_interval|\\$__interval|\\$__range"; "5m")
             | gsub("\\$supplier"; ".*")
             | tojson)"' "$dashboard"
} >"$tmp/dashboard-rules.yml"
if grep -q '\$' "$tmp/dashboard-rules.yml"; then
  echo "ops/check.sh: a dashboard query uses a variable this check does not know:" >&2
  grep '\$' "$tmp/dashboard-rules.yml" >&2
  exit 1
fi
promtool check rules "$tmp/dashboard-rules.yml"

echo "== ops files name only exported metrics"
cd ..
out=$(cargo test --workspace --locked --lib -- --exact \
  metrics::tests::ops_files_name_only_exported_metrics_and_labels 2>&1) || { echo "$out" >&2; exit 1; }
echo "$out" | grep -q "^test metrics::tests::ops_files_name_only_exported_metrics_and_labels ... ok$" \
  || { echo "$out" >&2; echo "ops/check.sh: the metric-name test did not run" >&2; exit 1; }
echo "ops files: OK"
