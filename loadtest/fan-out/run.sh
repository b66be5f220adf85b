#!/usr/bin/env bash
# Fan-out misses: cold searches across five simulated suppliers answering in 50–200 ms, then with
# one slow supplier (280 ms, inside its 300 ms timeout), then with one hung supplier (never
# answers). Target: p99 ≤ the slowest answering supplier + 5 ms; with the hung one, p99 ≤ its
# timeout + 5 ms. loadtest/fan-out/run.sh [seconds=30] [rate=10]
set -euo pipefail
source "$(dirname "$0")/../common/lib.sh"
SECS=${1:-30}
RATE=${2:-10}
lt_tools k6
lt_build
lt_start_sims
lt_start_edge
declare -A latency=([hotelbeds]=50 [expedia-rapid]=90 [ota-soap]=130 [derbysoft]=170 [dida]=200)
for p in "${PROTOCOLS[@]}"; do lt_sim_scenario "$p" "slow:${latency[$p]}" search; done
SUMMARY=$LT_LOG/fanout-summary.json
phase() { # name slowest target_ms min_complete
  local t0 t1
  rm -f "$SUMMARY"
  t0=$(lt_ticks "$EDGE_PID")
  taskset -c "$LOAD_CPU" k6 run -q --no-usage-report -e BASE="$LT_EDGE" -e RATE="$RATE" -e DURATION="${SECS}s" \
    -e P99_MS="$3" -e MIN_COMPLETE="$4" -e SUMMARY="$SUMMARY" "$LT_ROOT/loadtest/fan-out/fanout.js" \
    >"$LT_LOG/k6-fanout.txt" 2>&1 || true
  t1=$(lt_ticks "$EDGE_PID")
  read -r n p50 p95 p99 failed complete over50 over99 < <(python3 "$LT_ROOT/loadtest/common/k6sum.py" "$SUMMARY" \
    http_reqs:count http_req_duration:med 'http_req_duration:p(95)' 'http_req_duration:p(99)' \
    http_req_failed:rate complete:rate over_slowest_leg:med 'over_slowest_leg:p(99)')
  local met=no
  awk -v a="$p99" -v b="$3" 'BEGIN { exit !(a <= b) }' && met=yes
  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s | %s |\n' "$1" "$2" "$3" "$n" "$p50" "$p95" "$p99" \
    "$failed" "$complete" "$over50" "$over99" "$(lt_us_per_req "$t0" "$t1" "$n")" "$met"
}
echo "machine: $(lt_machine)"
echo
echo "| phase | slowest answering supplier | target p99 ms | requests | p50 ms | p95 ms | p99 ms | failed | complete | over the slowest leg p50 / p99 ms | edge CPU µs/request | met |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
phase "five suppliers, 50–200 ms" "200 ms" 205 0.99
lt_sim_scenario dida slow:280 search
phase "one slow (dida 280 ms)" "280 ms" 285 0.99
lt_sim_scenario dida timeout search
phase "one hung (dida, timeout 300 ms)" "170 ms (dida times out at 300 ms)" 305 -1
