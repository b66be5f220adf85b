#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for SECONDS each (default 240) on the stable
# toolchain (RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags). New inputs go to a scratch
# corpus (WORK, default /tmp/arigate-fuzz), seeded from fuzz/corpus/<target>, so the committed
# seeds stay small; crashes land in fuzz/artifacts/<target>/. One summary line per target.
set -uo pipefail
cd "$(dirname "$0")"
SECONDS_EACH=${SECONDS_EACH:-240}
WORK=${WORK:-/tmp/arigate-fuzz}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
targets=("$@")
[ ${#targets[@]} -eq 0 ] && mapfile -t targets < <(cargo fuzz list)
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O >/dev/null
for t in "${targets[@]}"; do
  mkdir -p "$WORK/$t" "artifacts/$t"
  log="$WORK/$t.log"
  cargo fuzz run -O "$t" "$WORK/$t" "corpus/$t" -- \
    -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -max_len=65536 -timeout=10 \
    -print_final_stats=1 >"$log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
  units=$(ls "$WORK/$t" | wc -l)
  crashes=$(ls "artifacts/$t" 2>/dev/null | wc -l)
  echo "$t exit=$rc execs=${execs:-?} cov=${cov:-?} ft=${ft:-?} corpus=$units crashes=$crashes"
done
