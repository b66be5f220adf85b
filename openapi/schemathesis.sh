#!/usr/bin/env bash
# Property-based API test: schemathesis (PyPI) generates requests from openapi/arigate-agent-v1.yaml
# and runs them against the live release demo (the edge plus five simulated suppliers on loopback),
# checking that no answer is a 5xx and that every answer matches the document (status, body
# schema, content type, documented headers). Bounded: MAX_EXAMPLES per operation and MAX_TIME
# seconds in all. The demo is stopped on exit. Results: openapi/README.md.
#
#   openapi/schemathesis.sh                 # defaults below
#   MAX_TIME=600 SEED=7 openapi/schemathesis.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-18480}
ADMIN_PORT=${ADMIN_PORT:-18490}
MAX_EXAMPLES=${MAX_EXAMPLES:-50}
MAX_TIME=${MAX_TIME:-300}
SEED=${SEED:-1}
REPORT=openapi/schemathesis-report

if ! command -v st >/dev/null 2>&1; then
  python3 -m pip install --quiet schemathesis
fi
cargo build --release --locked -p arigate --bin arigate
bin="${CARGO_TARGET_DIR:-target}/release/arigate"

mkdir -p "$REPORT"
"$bin" demo --listen "127.0.0.1:$PORT" --admin-listen "127.0.0.1:$ADMIN_PORT" >"$REPORT/demo.log" 2>&1 &
demo=$!
trap 'kill "$demo" 2>/dev/null; wait "$demo" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$ADMIN_PORT/readyz" >/dev/null 2>&1; then break; fi
  kill -0 "$demo" 2>/dev/null || { echo "the demo exited:"; cat "$REPORT/demo.log"; exit 1; }
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$ADMIN_PORT/readyz" >/dev/null

# From openapi/, so schemathesis's own cache (.schemathesis/) stays there, ignored.
cd openapi
st run arigate-agent-v1.yaml \
  --url "http://127.0.0.1:$PORT" \
  --header "Authorization: Bearer demo-key" \
  --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance,response_headers_conformance \
  --max-examples "$MAX_EXAMPLES" \
  --max-time "$MAX_TIME" \
  --request-timeout 10 \
  --workers 1 \
  --seed "$SEED" \
  --generation-database none \
  --no-color \
  --report junit --report-dir schemathesis-report
