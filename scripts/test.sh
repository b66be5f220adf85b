#!/usr/bin/env bash
# Runs the whole test suite: unit, table-driven and end-to-end tests (the real `arigate` binary
# against the five simulated suppliers over loopback HTTP). Installs the build prerequisites it
# needs on Debian (cmake for Pingora's dependencies) when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v cmake >/dev/null 2>&1 || need_apt+=(cmake)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  echo "installing ${need_apt[*]} (Debian packages)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

cargo test --workspace --locked "$@"
