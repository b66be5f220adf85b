#!/usr/bin/env bash
# Cache hit versus miss on the demo (release build), with wrk from Debian.
#   loadtest/cache-hit-vs-miss/run.sh [seconds] [connections]
# hit:  a search 30 days ahead, repeated: after the first request every leg is a cache hit.
# cold: random hotels and stays (search-cold.lua): nearly every request misses and fans out to
#       all five simulated suppliers.
# The demo runs its simulators in the edge's process, so the cold row's CPU includes theirs; the
# hit row touches no simulator.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-10}
CONNS=${2:-8}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release -q -p arigate
BIN=${CARGO_TARGET_DIR:-target}/release/arigate
$BIN demo --listen 127.0.0.1:18080 --admin-listen 127.0.0.1:19090 >/tmp/arigate-loadtest.log 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf 127.0.0.1:19090/readyz >/dev/null && break; sleep 0.1; done
DIR=loadtest/cache-hit-vs-miss
cpu() { awk '{print $14+$15}' /proc/$PID/stat; }   # utime+stime in clock ticks
TICK=$(getconf CLK_TCK)
run() {
  local name=$1 checkin=$2 checkout=$3 script=$4
  export CHECKIN=$checkin CHECKOUT=$checkout
  curl -s -o /dev/null -H 'Authorization: Bearer demo-key' 127.0.0.1:18080/v1/search \
    -d "{\"checkin\":\"$checkin\",\"checkout\":\"$checkout\",\"hotels\":[\"ARG-LIS-0001\",\"ARG-LIS-0002\",\"ARG-LIS-0003\"],\"occupancy\":[{\"adults\":2}],\"currency\":\"EUR\"}"
  local c0; c0=$(cpu)
  local out; out=$(wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s $DIR/$script http://127.0.0.1:18080/v1/search)
  local c1; c1=$(cpu)
  local reqs; reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  local rps; rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  local p50; p50=$(echo "$out" | awk '/ 50%/ {print $2}')
  local p99; p99=$(echo "$out" | awk '/ 99%/ {print $2}')
  local us; us=$(awk -v d=$((c1 - c0)) -v t="$TICK" -v n="$reqs" 'BEGIN { printf "%.0f", d / t * 1e6 / n }')
  local bad; bad=$(echo "$out" | awk '/Non-2xx/ {print $5}')
  printf "| %s | %s | %s | %s | %s | %s | %s |\n" "$name" "$reqs" "$rps" "$p50" "$p99" "$us" "${bad:-0}"
}
echo "| search | requests | req/s | p50 | p99 | edge CPU µs/request | non-2xx |"
echo "|---|---|---|---|---|---|---|"
run hit "$(date -u -d '+30 days' +%F)" "$(date -u -d '+32 days' +%F)" search.lua
run cold "$(date -u -d '+31 days' +%F)" "$(date -u -d '+33 days' +%F)" search-cold.lua
