#!/usr/bin/env bash
# Soak: mixed agent traffic (browse 80 % / re-check 15 % / book 5 %, loadtest/mixed/mixed.js) at a
# moderate fixed rate for a long time against the release build and the five simulators, sampling
# the edge's RSS (/proc/PID/status VmRSS) and open fds (/proc/PID/fd) every INTERVAL seconds into a
# CSV. Verdict after warm-up (the first WARMUP_PCT % of the run): RSS growth < 5 %, no fd growth.
#   loadtest/soak/run.sh [duration=30m] [rate=50]
# Environment: INTERVAL (5), WARMUP_PCT (20), SOAK_PORT_BASE (29400: the edge, its admin
# listener and the simulators take the next ports, below the ephemeral range and apart from the
# other scenarios' 37xxx), LT_LOG (/tmp/arigate-soak), EDGE_CPU/LOAD_CPU as in common/lib.sh.
# Exit status 1 when the verdict fails.
set -euo pipefail
DURATION=${1:-30m}
RATE=${2:-50}
INTERVAL=${INTERVAL:-5}
WARMUP_PCT=${WARMUP_PCT:-20}
BASE_PORT=${SOAK_PORT_BASE:-29400}
export LT_LOG=${LT_LOG:-/tmp/arigate-soak}
export LT_LISTEN=127.0.0.1:$((BASE_PORT + 80))
export LT_ADMIN_LISTEN=127.0.0.1:$((BASE_PORT + 90))
source "$(dirname "$0")/../common/lib.sh"
SIM_PORT=([hotelbeds]=$((BASE_PORT + 101)) [expedia-rapid]=$((BASE_PORT + 102)) [ota-soap]=$((BASE_PORT + 103))
  [derbysoft]=$((BASE_PORT + 104)) [dida]=$((BASE_PORT + 105)))

lt_tools k6
lt_build
lt_start_sims
# The shared edge config with a small idempotency bound: the store is bounded (100 000 keys by
# default), and with the default a book every 0.4 s would fill it for hours — a soak of the bound
# wants it full during warm-up, so that any growth after it is a leak, not a cache filling up.
CFG=$LT_LOG/soak-edge.yaml
sed "s|^mapping: .*|mapping: $LT_ROOT/config/demo-hotels.yaml|" "$LT_ROOT/loadtest/common/edge.yaml" >"$CFG"
printf 'limits:\n  idempotency_entries: %s\n' "${IDEMPOTENCY_ENTRIES:-500}" >>"$CFG"
# The same for the caches and the span store: small budgets that fill during warm-up.
sed -i "s|^  excerpt_bytes: 4096|  excerpt_bytes: 4096\n  memory_spans: ${MEMORY_SPANS:-5000}|" "$CFG"
printf 'cache:\n  memory_bytes: %s\n  answers_max_bytes: %s\n  answers_max_entries: %s\n' \
  "${CACHE_BYTES:-8388608}" "${ANSWER_BYTES:-2097152}" "${ANSWER_ENTRIES:-500}" >>"$CFG"
lt_start_edge "$CFG"
declare -A latency=([hotelbeds]=50 [expedia-rapid]=90 [ota-soap]=130 [derbysoft]=170 [dida]=200)
for p in "${PROTOCOLS[@]}"; do lt_sim_scenario "$p" "slow:${latency[$p]}" search; done

CSV=$LT_LOG/soak.csv
SUMMARY=$LT_LOG/soak-summary.json
# fds counts every open descriptor; agent_conns the agent connections among them (k6 opens more
# when it falls behind, so they follow the load) and upstream_conns the edge's keep-alive
# connections to the simulators (their pool follows supplier latency): the rest must stay flat.
echo "seconds,rss_kb,fds,agent_conns,threads,upstream_conns" >"$CSV"
(
  t0=$(date +%s)
  while kill -0 "$EDGE_PID" 2>/dev/null; do
    rss=$(lt_rss_kb "$EDGE_PID" || true)
    fds=$(ls "/proc/$EDGE_PID/fd" 2>/dev/null | wc -l)
    conns=$(ss -tn state established "( sport = :${LT_LISTEN##*:} )" 2>/dev/null | tail -n +2 | wc -l)
    thr=$(awk '/^Threads/ {print $2}' "/proc/$EDGE_PID/status" 2>/dev/null || true)
    up=$(ss -tn state established "( dport >= :$((BASE_PORT + 101)) and dport <= :$((BASE_PORT + 105)) )" 2>/dev/null | tail -n +2 | wc -l)
    echo "$(($(date +%s) - t0)),$rss,$fds,$conns,$thr,$up" >>"$CSV"
    sleep "$INTERVAL"
  done
) &
LT_PIDS+=($!)
echo "machine: $(lt_machine)"
echo "soak: $DURATION at $RATE req/s, samples every $INTERVAL s into $CSV"
rc=0
taskset -c "$LOAD_CPU" k6 run --no-usage-report -e BASE="$LT_EDGE" -e RATE="$RATE" -e DURATION="$DURATION" \
  -e SUMMARY="$SUMMARY" -e FIXED_VUS="${FIXED_VUS:-$((RATE * 2))}" "$LT_ROOT/loadtest/mixed/mixed.js" >"$LT_LOG/k6-soak.txt" 2>&1 || rc=$?
echo "k6 exit status: $rc (99: a latency or error threshold of mixed.js failed; the soak's verdict is below)"
read -r n err biz < <(python3 "$LT_ROOT/loadtest/common/k6sum.py" "$SUMMARY" http_reqs:count errors:rate business_outcomes:count)
echo "| kind | p50 ms | p99 ms |"
echo "|---|---|---|"
for k in browse recheck book; do
  read -r p50 p99 < <(python3 "$LT_ROOT/loadtest/common/k6sum.py" "$SUMMARY" \
    "http_req_duration{kind:$k}:med" "http_req_duration{kind:$k}:p(99)")
  echo "| $k | $p50 | $p99 |"
done
echo "requests: $n, error rate: $err ($(awk -v n="$n" -v e="$err" 'BEGIN {printf "%d", n * e + 0.5}') errors), sold out / price changed / expired (not errors): $biz"
grep -E '✗|checks' "$LT_LOG/k6-soak.txt" | sed 's/^ */  k6: /' || true
sleep "$INTERVAL"
python3 - "$CSV" "$WARMUP_PCT" <<'PY'
import csv, sys
rows = [(int(r["seconds"]), int(r["rss_kb"]),
         int(r["fds"]) - int(r["agent_conns"]) - int(r.get("upstream_conns") or 0), int(r["agent_conns"]),
         int(r.get("upstream_conns") or 0))
        for r in csv.DictReader(open(sys.argv[1])) if r["rss_kb"]]
if len(rows) < 5:
    sys.exit("too few samples")
warm_at = rows[-1][0] * int(sys.argv[2]) / 100
after = [r for r in rows if r[0] >= warm_at]
warm, last = after[0], after[-1]
# The end level: the median of the last tenth, so one sample caught mid-burst does not decide.
tail = sorted(r[1] for r in after[-max(3, len(after) // 10):])
end_rss = tail[len(tail) // 2]
growth = (end_rss - warm[1]) / warm[1] * 100
peak = max(r[1] for r in after)
# The end (lowest of the last three samples) is compared with the highest of the first three
# after warm-up.
fd_warm, fd_end, fd_max = max(r[2] for r in after[:3]), min(r[2] for r in after[-3:]), max(r[2] for r in after)
ok_rss = growth < 5
ok_fd = fd_end <= fd_warm
print(f"RSS kB: start {rows[0][1]}, after warm-up ({warm[0]} s) {warm[1]}, end ({last[0]} s, median of last tenth) "
      f"{end_rss}, peak after warm-up {peak}; growth after warm-up {growth:+.1f} % (< 5 %: {'met' if ok_rss else 'NOT met'})")
print(f"fds other than agent and upstream connections: start {rows[0][2]}, after warm-up {fd_warm}, end {fd_end}, "
      f"max {fd_max} (no growth: {'met' if ok_fd else 'NOT met'}); agent connections: after warm-up "
      f"{warm[3]}, end {last[3]}, max {max(r[3] for r in after)}; upstream connections: after warm-up "
      f"{warm[4]}, end {last[4]}, max {max(r[4] for r in after)}")
sys.exit(0 if ok_rss and ok_fd else 1)
PY
