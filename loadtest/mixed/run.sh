#!/usr/bin/env bash
# Mixed agent traffic (k6 open model): browse 80 %, re-check 15 %, book 5 %, with thresholds on
# p95/p99 and errors; the edge's RSS is sampled every 10 s. Target: RSS growth < 5 % after warm-up.
#   loadtest/mixed/run.sh [duration=120s] [rate=40]      (the issue's soak: 10m)
set -euo pipefail
source "$(dirname "$0")/../common/lib.sh"
DURATION=${1:-120s}
RATE=${2:-40}
lt_tools k6
lt_build
lt_start_sims
lt_start_edge
declare -A latency=([hotelbeds]=50 [expedia-rapid]=90 [ota-soap]=130 [derbysoft]=170 [dida]=200)
for p in "${PROTOCOLS[@]}"; do lt_sim_scenario "$p" "slow:${latency[$p]}" search; done
SUMMARY=$LT_LOG/mixed-summary.json
RSS=$LT_LOG/mixed-rss.csv
echo "seconds,rss_kb" >"$RSS"
( s=0; while kill -0 "$EDGE_PID" 2>/dev/null; do echo "$s,$(lt_rss_kb "$EDGE_PID")" >>"$RSS"; sleep 10; s=$((s + 10)); done ) &
SAMPLER=$!
LT_PIDS+=("$SAMPLER")
echo "machine: $(lt_machine)"
t0=$(lt_ticks "$EDGE_PID")
rc=0
taskset -c "$LOAD_CPU" k6 run --no-usage-report -e BASE="$LT_EDGE" -e RATE="$RATE" -e DURATION="$DURATION" \
  -e SUMMARY="$SUMMARY" "$LT_ROOT/loadtest/mixed/mixed.js" >"$LT_LOG/k6-mixed.txt" 2>&1 || rc=$?
t1=$(lt_ticks "$EDGE_PID")

kill "$SAMPLER" 2>/dev/null || true
echo "k6 exit status: $rc (99: a threshold failed)"
echo
echo "| kind | requests | p50 ms | p95 ms | p99 ms |"
echo "|---|---|---|---|---|"
for k in browse recheck book; do
  read -r n p50 p95 p99 < <(python3 "$LT_ROOT/loadtest/common/k6sum.py" "$SUMMARY" "http_reqs{kind:$k}:count" \
    "http_req_duration{kind:$k}:med" "http_req_duration{kind:$k}:p(95)" "http_req_duration{kind:$k}:p(99)")
  echo "| $k | $n | $p50 | $p95 | $p99 |"
done
read -r n err biz < <(python3 "$LT_ROOT/loadtest/common/k6sum.py" "$SUMMARY" http_reqs:count errors:rate business_outcomes:count)
echo
echo "requests: $n, error rate: $err, sold out / price changed / expired (not errors): $biz"
echo "edge CPU per request: $(lt_us_per_req "$t0" "$t1" "$n") µs"
python3 - "$RSS" <<'PY'
import csv, sys
rows = [(int(r["seconds"]), int(r["rss_kb"])) for r in csv.DictReader(open(sys.argv[1])) if r["rss_kb"]]
if len(rows) < 3:
    sys.exit("too few RSS samples")
warm = rows[max(1, len(rows) // 5)]
last = rows[-1]
growth = (last[1] - warm[1]) / warm[1] * 100
print(f"RSS: start {rows[0][1]} kB, after warm-up ({warm[0]} s) {warm[1]} kB, end ({last[0]} s) {last[1]} kB, "
      f"growth after warm-up {growth:+.1f} % (target < 5 %: {'met' if growth < 5 else 'NOT met'})")
PY
