#!/usr/bin/env bash
# Static content hits: GET /v1/hotels/ARG-LIS-0001 repeated; after the first request every
# supplier's content leg is a cache hit. loadtest/static-hits/run.sh [seconds=10] [connections=8]
set -euo pipefail
source "$(dirname "$0")/../common/lib.sh"
SECS=${1:-10}
CONNS=${2:-8}
lt_tools wrk k6
lt_build
lt_start_sims
lt_start_edge
URL=$LT_EDGE/v1/hotels/ARG-LIS-0001
curl -sf -o "$LT_LOG/hotel-answer.json" -H 'Authorization: Bearer demo-key' "$URL"
before=$(curl -sf "http://127.0.0.1:${SIM_PORT[hotelbeds]}/__sim/counters")
echo "machine: $(lt_machine)"
echo "answer: $(wc -c <"$LT_LOG/hotel-answer.json") bytes"
echo
echo "$LT_HEADER"
lt_measure "$SECS" "$CONNS" "$URL" GET "" "$LT_ROOT/loadtest/static-hits/hotel.lua"
echo
echo "hotelbeds simulator counters before: $before"
echo "hotelbeds simulator counters after:  $(curl -sf "http://127.0.0.1:${SIM_PORT[hotelbeds]}/__sim/counters")"
