#!/usr/bin/env bash
# Runs the whole test suite: unit, table-driven and end-to-end tests (the real `arigate` binary
# against the five simulated suppliers over loopback HTTP). Installs what it needs on Debian when
# missing: cmake (Pingora's dependencies), redis-server and clickhouse-server (tests start their
# own throwaway instances; none is left running).
set -euo pipefail
cd "$(dirname "$0")/.."

# Tests that need a database start a throwaway instance of it themselves (free port, temp dir)
# and fail loudly when they cannot; the servers come from Debian's packages.
need_apt=()
command -v cmake >/dev/null 2>&1 || need_apt+=(cmake)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v clickhouse-server >/dev/null 2>&1 || command -v clickhouse >/dev/null 2>&1 || need_apt+=(clickhouse-server clickhouse-client)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  echo "installing ${need_apt[*]} (Debian packages)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

cargo test --workspace --locked "$@"
