#!/usr/bin/env bash
# Renders the story of one demo booking (search → re-check → book → query → cancel) the way an ops
# person sees it: starts `arigate demo` on spare loopback ports, books through it, fetches
# /api/traces/by-order/{id} as JSON and HTML, and screenshots the page with headless Chromium.
#   scripts/booking-story.sh [out.png]      (default docs/img/booking-story.png)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-docs/img/booking-story.png}
command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium jq >/dev/null; }
command -v jq >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null; }
cargo build -q --release -p arigate
E=127.0.0.1:18481 ADM=127.0.0.1:19481
./target/release/arigate demo --listen $E --admin-listen $ADM >/tmp/arigate-story-demo.log 2>&1 &
DEMO=$!
trap 'kill $DEMO 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf $ADM/readyz >/dev/null && break; sleep 0.1; done
A='Authorization: Bearer demo-key'
IN=$(date -u -d '+30 days' +%F); OUT_D=$(date -u -d '+32 days' +%F)
SEARCH=$(curl -sf -H "$A" $E/v1/search -d "{\"checkin\":\"$IN\",\"checkout\":\"$OUT_D\",\"hotels\":[\"ARG-LIS-0001\",\"ARG-LIS-0002\"],\"occupancy\":[{\"adults\":2}],\"currency\":\"EUR\"}")
OFFER=$(jq -r '[.hotels[].rooms[].offers[] | select(.supplier=="ota-soap")][0].offer_id' <<<"$SEARCH")
OFFER=$(curl -sf -H "$A" $E/v1/availability -d "{\"offer_id\":\"$OFFER\"}" | jq -r .offer_id)
BID=$(curl -sf -H "$A" -H "Idempotency-Key: story-$RANDOM" $E/v1/bookings \
  -d "{\"offer_id\":\"$OFFER\",\"guests\":[{\"first_name\":\"Ada\",\"last_name\":\"Lovelace\"}]}" | jq -r .booking_id)
curl -sf -H "$A" $E/v1/bookings/$BID >/dev/null
curl -sf -X POST -H "$A" $E/v1/bookings/$BID/cancel >/dev/null
sleep 1.5   # the span writer flushes every second
curl -sf $ADM/api/traces/by-order/$BID | jq -r '
  def show(d): ("  " * d) + .event_type + " " + (.supplier // "") + " " + (.attributes.operation // "")
    + " " + .status + " " + (.duration_ms | tostring) + " ms", (.children[]? | show(d + 1));
  .traces[] | "trace " + .trace_id, (.roots[] | show(1))'
mkdir -p "$(dirname "$OUT")"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,1100 \
  --screenshot="$OUT" "http://$ADM/api/traces/by-order/$BID?format=html" 2>/dev/null
echo "screenshot: $OUT"
