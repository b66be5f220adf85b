#!/usr/bin/env bash
# Installs the ClickHouse server the telemetry tests start on their own (a throwaway instance per
# test on free loopback ports; see telemetry/src/testkit.rs). Debian ships 18.16; any newer
# `clickhouse` binary on PATH works too (or point ARIGATE_CLICKHOUSE_BIN at one).
# Nothing is started here and no system service is enabled.
set -euo pipefail

if command -v clickhouse-server >/dev/null 2>&1 || command -v clickhouse >/dev/null 2>&1 \
   || [ -x /usr/sbin/clickhouse-server ] || [ -n "${ARIGATE_CLICKHOUSE_BIN:-}" ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
echo "installing clickhouse-server clickhouse-client (Debian packages) for the telemetry tests"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
  clickhouse-server clickhouse-client >/dev/null
# Debian's package may try to start its system service; the tests never use it.
if command -v service >/dev/null 2>&1; then $SUDO service clickhouse-server stop >/dev/null 2>&1 || true; fi
