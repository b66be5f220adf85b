#!/usr/bin/env bash
# Cached browse: the same three-hotel search, repeated; every supplier leg is a cache hit after
# the first request. loadtest/cached-browse/run.sh [seconds=10] [connections=8]
set -euo pipefail
source "$(dirname "$0")/../common/lib.sh"
SECS=${1:-10}
CONNS=${2:-8}
lt_tools wrk k6
lt_build
lt_start_sims
lt_start_edge
export BODY_FILE=$LT_LOG/browse-body.json
lt_search_body "$(lt_date 30)" "$(lt_date 32)" ARG-LIS-0001 ARG-LIS-0002 ARG-LIS-0003 >"$BODY_FILE"
curl -sf -o "$LT_LOG/browse-answer.json" -H 'Authorization: Bearer demo-key' "$LT_EDGE/v1/search" -d @"$BODY_FILE"
before=$(curl -sf "http://127.0.0.1:${SIM_PORT[hotelbeds]}/__sim/counters")
echo "machine: $(lt_machine)"
echo "answer: $(wc -c <"$LT_LOG/browse-answer.json") bytes, $(grep -o '"offer_id"' "$LT_LOG/browse-answer.json" | wc -l) offers"
echo
echo "$LT_HEADER"
lt_measure "$SECS" "$CONNS" "$LT_EDGE/v1/search" POST "$BODY_FILE" "$LT_ROOT/loadtest/cached-browse/search.lua"
after=$(curl -sf "http://127.0.0.1:${SIM_PORT[hotelbeds]}/__sim/counters")
echo
echo "hotelbeds simulator counters before: $before"
echo "hotelbeds simulator counters after:  $after (unchanged: every leg was a cache hit)"
echo "edge RSS: $(lt_rss_kb "$EDGE_PID") kB"
