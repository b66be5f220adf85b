#!/usr/bin/env bash
# Every scenario in turn (the side-by-side comparison last); each one's output goes to
# loadtest/results/<scenario>.txt. MIXED_DURATION (default 10m) sets the mixed soak.
#   loadtest/run-all.sh
set -uo pipefail
cd "$(dirname "$0")"
mkdir -p results
for s in cached-browse static-hits pass-through fan-out; do
  echo "== $s" >&2
  "./$s/run.sh" >"results/$s.txt" 2>&1 || echo "$s failed: see results/$s.txt" >&2
done
echo "== mixed" >&2
./mixed/run.sh "${MIXED_DURATION:-10m}" >results/mixed.txt 2>&1 || echo "mixed failed: see results/mixed.txt" >&2
echo "== compare" >&2
./compare/run.sh >results/compare.txt 2>&1 || echo "compare failed: see results/compare.txt" >&2
