#!/usr/bin/env bash
# Side by side on one machine: arigate (release) against nginx and against the origin itself.
#
#   loadtest/compare/run.sh            (SECS=10 CONNS=16 RATES="100 200 400" by default)
#   ROWS="browse/pingora browse/arigate" RATES= OUT=/tmp/quick loadtest/compare/run.sh
#                                      (only those rows, full speed only: a quick edge-vs-floor check)
#
# browse (cache hit of the same search):
#   direct  — the origin: nginx serving a captured arigate search answer (the same bytes) from a file
#   nginx   — nginx proxy_cache in front of that origin (POST cached by its body), every request a hit
#   pingora — the floor: a bare Pingora 0.9.1 service (benches/src/bin/pingora-floor.rs) that reads
#             the request body and answers the same bytes from memory, with none of arigate's work
#   arigate — the edge answering the search from its cache (five simulators behind it, untouched)
# pass-through (re-check of one offer at one supplier, never cached):
#   direct  — the Hotelbeds simulator's checkrates, called with the wire request arigate sends
#   nginx   — nginx plain proxy_pass of that wire request to the simulator
#   pingora — the floor: the same bare Pingora service as a plain proxy of that wire request
#   arigate — the agent's POST /v1/availability, translated to checkrates and back
#
# Per row: CPU µs/request of the process under test (utime+stime from /proc, threads and nginx
# workers included) at full speed (wrk) and at fixed rates (k6 constant-arrival-rate), p50/p99 at
# each rate, peak throughput. The process under test runs on EDGE_CPU, everything else on
# LOAD_CPU. Writes loadtest/results/compare.md, compare.csv and PNG charts.
set -euo pipefail
source "$(dirname "$0")/../common/lib.sh"
SECS=${SECS:-10}
CONNS=${CONNS:-16}
RATES=${RATES-100 200 400}
OUT=${OUT:-$LT_ROOT/loadtest/results}
W=$LT_LOG/compare
ORIGIN=127.0.0.1:37201
PROXY=127.0.0.1:37202
FLOOR_ANSWER=127.0.0.1:37203
FLOOR_PROXY=127.0.0.1:37204
lt_tools wrk k6 nginx matplotlib
lt_build
FLOOR_BIN=${FLOOR_BIN:-$(dirname "$BIN")/pingora-floor}
[ -n "${ARIGATE_BIN:-}" ] || (cd "$LT_ROOT" && cargo build --release -q -p arigate-benches --bin pingora-floor)
[ -x "$FLOOR_BIN" ] || {
  echo "no $FLOOR_BIN: cargo build --release -p arigate-benches --bin pingora-floor, or set FLOOR_BIN" >&2
  exit 1
}
rm -rf "$W" && mkdir -p "$W/origin" "$W/cache" "$OUT"
lt_start_sims
lt_start_edge
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# --- capture the bytes both sides serve -------------------------------------------------------
BROWSE_BODY=$W/search-body.json
lt_search_body "$(lt_date 30)" "$(lt_date 32)" ARG-LIS-0001 ARG-LIS-0002 ARG-LIS-0003 >"$BROWSE_BODY"
curl -sf -o /dev/null -H 'Authorization: Bearer demo-key' "$LT_EDGE/v1/search" -d @"$BROWSE_BODY"
cache=$(curl -sf -D "$W/hit-headers.txt" -o "$W/origin/search.json" -H 'Authorization: Bearer demo-key' \
  "$LT_EDGE/v1/search" -d @"$BROWSE_BODY" && awk -F': ' 'tolower($1) == "x-arigate-cache" {print $2}' "$W/hit-headers.txt" | tr -d '\r')
[ "$cache" = hit ] || { echo "arigate's second search was not a cache hit ($cache)" >&2; exit 1; }
BROWSE_BYTES=$(wc -c <"$W/origin/search.json")

RECHECK_BODY=$W/recheck-body.json
search=$(cat "$BROWSE_BODY")
curl -sf -H 'Authorization: Bearer demo-key' "$LT_EDGE/v1/search" -d "${search%\}},\"suppliers\":[\"hotelbeds\"]}" |
  python3 "$LT_ROOT/loadtest/common/offer.py" hotelbeds >"$RECHECK_BODY"
trace=$(curl -sf -D - -o "$W/recheck-answer.json" -H 'Authorization: Bearer demo-key' "$LT_EDGE/v1/availability" \
  -d @"$RECHECK_BODY" | awk -F': ' 'tolower($1) == "x-trace-id" {print $2}' | tr -d '\r')
grep -q '"status":"available"' "$W/recheck-answer.json" || { cat "$W/recheck-answer.json" >&2; exit 1; }
# The wire request arigate sent for that re-check, from its trace (request excerpt of the leg span).
WIRE_BODY=$W/checkrates-body.json
wire_request() {
  curl -sf "$LT_ADMIN/api/traces/$trace" | python3 -c '
import json, sys
def spans(node):
    yield node
    for c in node.get("children", []):
        yield from spans(c)
tree = json.load(sys.stdin)
roots = tree.get("roots") or tree.get("spans") or ([tree["root"]] if "root" in tree else [tree])
for root in roots:
    for s in spans(root):
        data = s.get("request_data") or ""
        if data.startswith("POST /hotel-api/1.0/checkrates"):
            head, _, body = data.partition("\n")
            open(sys.argv[1], "w").write(body)
            print(head.split(" ")[1])
            sys.exit(0)
sys.exit("no checkrates request in the re-check trace")
' "$WIRE_BODY"
}
# Spans are recorded after the answer is written: wait for the re-check's.
for _ in $(seq 1 50); do WIRE_PATH=$(wire_request 2>/dev/null) && break; sleep 0.1; done
[ -n "${WIRE_PATH:-}" ] || { echo "no checkrates request in the trace of $trace" >&2; exit 1; }
HB_KEY=4f8a2c1e9b7d4a03
HB_SECRET=s3cr3tHB
hb_headers() { # fresh Hotelbeds auth headers (the simulator accepts a timestamp within ±300 s)
  local ts sig
  ts=$(date +%s)
  sig=$(printf '%s%s%s' "$HB_KEY" "$HB_SECRET" "$ts" | sha256sum | cut -d' ' -f1)
  echo "Api-key: $HB_KEY|X-Signature: $sig|Accept: application/json"
}

# --- nginx instances ------------------------------------------------------------------------------
render() { sed -e "s#@DIR@#$W#g" -e "s#@ORIGIN@#$ORIGIN#g" -e "s#@PROXY@#$PROXY#g" \
  -e "s#@HOTELBEDS@#127.0.0.1:${SIM_PORT[hotelbeds]}#g" "$1" >"$2"; }
render "$LT_ROOT/loadtest/compare/origin.conf.tmpl" "$W/origin.conf"
render "$LT_ROOT/loadtest/compare/proxy.conf.tmpl" "$W/proxy.conf"
taskset -c "$LOAD_CPU" "$NGINX" -p "$W" -c "$W/origin.conf" -g 'daemon off;' &
ORIGIN_PID=$!
LT_PIDS+=("$ORIGIN_PID")
taskset -c "$EDGE_CPU" "$NGINX" -p "$W" -c "$W/proxy.conf" -g 'daemon off;' &
PROXY_PID=$!
LT_PIDS+=("$PROXY_PID")
# The Pingora floor: one process per set-up, pinned like the edge.
RUST_LOG=warn taskset -c "$EDGE_CPU" "$FLOOR_BIN" answer "$FLOOR_ANSWER" "$W/origin/search.json" >"$W/floor-answer.log" 2>&1 &
FLOOR_ANSWER_PID=$!
LT_PIDS+=("$FLOOR_ANSWER_PID")
RUST_LOG=warn taskset -c "$EDGE_CPU" "$FLOOR_BIN" proxy "$FLOOR_PROXY" "127.0.0.1:${SIM_PORT[hotelbeds]}" >"$W/floor-proxy.log" 2>&1 &
FLOOR_PROXY_PID=$!
LT_PIDS+=("$FLOOR_PROXY_PID")
lt_wait_http "http://$ORIGIN/search.json"
lt_wait_http "http://$FLOOR_ANSWER/v1/search"
lt_wait_http "http://$PROXY/v1/search"
pin() { local p; for p in "$1" $(pgrep -P "$1"); do taskset -a -p -c "$2" "$p" >/dev/null; done; } # nginx and its workers
x=$(curl -s -o /dev/null -D - -X POST "http://$PROXY/v1/search" -d @"$BROWSE_BODY" | tr -d '\r' | awk -F': ' '$1 == "X-Cache" {print $2}')
x=$(curl -s -o /dev/null -D - -X POST "http://$PROXY/v1/search" -d @"$BROWSE_BODY" | tr -d '\r' | awk -F': ' '$1 == "X-Cache" {print $2}')
[ "$x" = HIT ] || { echo "nginx proxy_cache did not hit ($x)" >&2; exit 1; }

# --- measurement ----------------------------------------------------------------------------------
CSV=$W/rows.csv
echo "section,row,load,rate,requests,rps,p50_ms,p99_ms,errors,cpu_us,switches_per_req,steal_pct" >"$CSV"
# row SECTION ROW "PIDS" URL METHOD BODY AUTH HEADERS_FN
row() {
  local section=$1 name=$2 pids=$3 url=$4 method=$5 body=$6 auth=$7 hdr_fn=$8
  local t0 t1 r
  [ -z "${ROWS:-}" ] || [[ " $ROWS " == *" $section/$name "* ]] || return 0
  export METHOD=$method BODY_FILE=$body AUTH=$auth HEADERS
  HEADERS=$($hdr_fn)
  local s0 s1 st0 st1
  st0=$(lt_steal)
  s0=$(lt_switches $pids)
  t0=$(lt_ticks $pids)
  lt_wrk "$SECS" "$CONNS" "$url" "$LT_ROOT/loadtest/common/request.lua"
  t1=$(lt_ticks $pids)
  s1=$(lt_switches $pids)
  st1=$(lt_steal)
  echo "$section,$name,peak,,$WRK_REQS,$WRK_RPS,$WRK_P50,$WRK_P99,$WRK_BAD,$(lt_us_per_req "$t0" "$t1" "$WRK_REQS"),$(lt_per_req "$s0" "$s1" "$WRK_REQS"),$(lt_steal_pct "$st0" "$st1")" >>"$CSV"
  echo "  $section/$name peak: $WRK_RPS req/s, p50 $WRK_P50 ms, p99 $WRK_P99 ms, errors $WRK_BAD, CPU $(lt_us_per_req "$t0" "$t1" "$WRK_REQS") µs/req, steal $(lt_steal_pct "$st0" "$st1") %" >&2
  for r in $RATES; do
    HEADERS=$($hdr_fn)
    K6_ENV=("AUTH=$auth" "HEADERS=$HEADERS")
    st0=$(lt_steal)
    s0=$(lt_switches $pids)
    t0=$(lt_ticks $pids)
    lt_k6_rate "$r" "$SECS" "$url" "$method" "$body"
    t1=$(lt_ticks $pids)
    s1=$(lt_switches $pids)
    st1=$(lt_steal)
    local errs
    errs=$(awk -v f="$K6_FAIL" -v n="$K6_REQS" -v d="$K6_DROPPED" 'BEGIN {printf "%d", f * n + d + 0.5}')
    echo "$section,$name,fixed,$r,$K6_REQS,$(awk -v n="$K6_REQS" -v s="$SECS" 'BEGIN {printf "%.0f", n / s}'),$K6_P50,$K6_P99,$errs,$(lt_us_per_req "$t0" "$t1" "$K6_REQS"),$(lt_per_req "$s0" "$s1" "$K6_REQS"),$(lt_steal_pct "$st0" "$st1")" >>"$CSV"
    echo "  $section/$name $r/s: p50 $K6_P50 ms, p99 $K6_P99 ms, errors $errs, CPU $(lt_us_per_req "$t0" "$t1" "$K6_REQS") µs/req, steal $(lt_steal_pct "$st0" "$st1") %" >&2
  done
}
none() { echo ""; }
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "browse: $BROWSE_BYTES-byte answer; pass-through: POST $WIRE_PATH" >&2
# The direct rows measure the origin itself, so it moves to EDGE_CPU for them.
pin "$ORIGIN_PID" "$EDGE_CPU"
row browse direct "$ORIGIN_PID" "http://$ORIGIN/v1/search" POST "$BROWSE_BODY" none none
pin "$ORIGIN_PID" "$LOAD_CPU"
row browse nginx "$PROXY_PID" "http://$PROXY/v1/search" POST "$BROWSE_BODY" none none
row browse pingora "$FLOOR_ANSWER_PID" "http://$FLOOR_ANSWER/v1/search" POST "$BROWSE_BODY" none none
row browse arigate "$EDGE_PID" "$LT_EDGE/v1/search" POST "$BROWSE_BODY" demo-key none
HB_PID=${SIM_PID[hotelbeds]}
taskset -a -p -c "$EDGE_CPU" "$HB_PID" >/dev/null
row pass-through direct "$HB_PID" "http://127.0.0.1:${SIM_PORT[hotelbeds]}$WIRE_PATH" POST "$WIRE_BODY" none hb_headers
taskset -a -p -c "$LOAD_CPU" "$HB_PID" >/dev/null
row pass-through nginx "$PROXY_PID" "http://$PROXY$WIRE_PATH" POST "$WIRE_BODY" none hb_headers
row pass-through pingora "$FLOOR_PROXY_PID" "http://$FLOOR_PROXY$WIRE_PATH" POST "$WIRE_BODY" none hb_headers
row pass-through arigate "$EDGE_PID" "$LT_EDGE/v1/availability" POST "$RECHECK_BODY" demo-key none

cp "$CSV" "$OUT/compare.csv"
python3 "$LT_ROOT/loadtest/compare/report.py" "$OUT" \
  "$(lt_machine | sed "s/load average before the run: .*/load average before the run: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)/")" \
  "$BROWSE_BYTES" "$WIRE_PATH" "$SECS" "$CONNS"
cat "$OUT/compare.md"
