#!/usr/bin/env bash
# Runs the whole test suite: unit, table-driven and end-to-end tests (the real `arigate` binary
# against the five simulated suppliers over loopback HTTP). Installs what it needs on Debian when
# missing: cmake (Pingora's dependencies), redis-server and clickhouse-server (tests start their
# own throwaway instances; none is left running).
set -euo pipefail
cd "$(dirname "$0")/.."

# Tests that need a database start a throwaway instance of it themselves (free port, temp dir)
# and fail loudly when they cannot; the servers come from Debian's packages.
. scripts/lib/install.sh
need_build_tools
need redis-server redis-server
need "clickhouse-server clickhouse" clickhouse-server clickhouse-client
install_needed

cargo test --workspace --locked "$@"
