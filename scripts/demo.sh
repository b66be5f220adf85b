#!/usr/bin/env bash
# Runs the demo: the edge plus five simulated suppliers on loopback (`arigate demo`, arguments
# passed through, e.g. `scripts/demo.sh --listen 127.0.0.1:8081`). Installs what building it needs
# on Debian when missing (cmake, as scripts/test.sh does), then builds the release binary and
# becomes it: the demo runs as this script's process, so stopping the script stops the demo.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/lib/install.sh
need_build_tools
install_needed

exec cargo run --release --locked -p arigate -- demo "$@"
