#!/usr/bin/env bash
# Transactional pass-through: re-check POSTs through the edge, translated to one simulated
# supplier (Hotelbeds checkrates), never cached. loadtest/pass-through/run.sh [seconds=10] [connections=8]
set -euo pipefail
source "$(dirname "$0")/../common/lib.sh"
SECS=${1:-10}
CONNS=${2:-8}
lt_tools wrk k6
lt_build
lt_start_sims
lt_start_edge
export BODY_FILE=$LT_LOG/recheck-body.json
search=$(lt_search_body "$(lt_date 30)" "$(lt_date 32)" ARG-LIS-0001 ARG-LIS-0002 ARG-LIS-0003)
curl -sf -H 'Authorization: Bearer demo-key' "$LT_EDGE/v1/search" \
  -d "${search%\}},\"suppliers\":[\"hotelbeds\"]}" | python3 "$LT_ROOT/loadtest/common/offer.py" hotelbeds >"$BODY_FILE"
curl -sf -H 'Authorization: Bearer demo-key' "$LT_EDGE/v1/availability" -d @"$BODY_FILE" | head -c 300
echo
counters() { curl -sf "http://127.0.0.1:${SIM_PORT[hotelbeds]}/__sim/counters"; }
before=$(counters)
echo "machine: $(lt_machine)"
echo
echo "$LT_HEADER"
lt_measure "$SECS" "$CONNS" "$LT_EDGE/v1/availability" POST "$BODY_FILE" "$LT_ROOT/loadtest/pass-through/recheck.lua"
echo
echo "hotelbeds simulator counters before: $before"
echo "hotelbeds simulator counters after:  $(counters) (one checkrates per re-check)"
