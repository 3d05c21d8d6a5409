#!/bin/sh
# dw_layers.sh [-t THREADS] [-n RUNS] [-r ROUNDS] SPEC.json...
# The depthwise convolutions timmc's kernel can run (runtime/timmc_dw.c:
# 3x3 and 5x5, stride 1 and 2, no dilation), timed both ways in the model:
# one runner per spec, profiled (--bench RUNS --profile) with
# TIMMC_DWCONV=xnnpack (XNNPACK's convolution) and TIMMC_DWCONV=all (timmc's
# kernel on every such layer, also those the cost model leaves to XNNPACK)
# in alternating rounds. Per layer: kernel, stride and input shape, whether
# the cost model (generator/passes/pick_kernels.lua) chose timmc's kernel,
# each way's ms per run (median over rounds) and the median of the rounds'
# ratios; then the sums per spec, of all layers and of the chosen ones.
# Runners go to $TIMMC_BENCH_OUT (default build/dw_layers).
set -eu
export LC_ALL=C
cd "$(dirname "$0")/.."
. bench/lib.sh
layers_begin dw_layers "$@"
shift "$bench_shift"
printf '%-36s %-24s %6s %9s %9s %7s\n' layer "kernel[input]" chosen xnn_ms timmc_ms ratio
for spec in "$@"; do
  name=$(lua5.4 tools/spec.lua get "$spec" name)
  generator/timmc build "$spec" -o "$out" > /dev/null
  # each layer's summary line, then its timmc_dw_use line (chosen or not)
  sed -n 's/^  \/\* \([^:]*\): conv \([0-9]\)x[0-9] .* \(s[0-9]\) g.*; \[\([^]]*\)\] -> .*$/L \1 k\2\3[\4]/p
          s/^  if (timmc_dw_use(\/\*chosen=\*\/\([01]\))) {$/C \1/p' "$out/$name.c" |
    awk '$1 == "L" { m = $2; k = $3; next } $1 == "C" { print m, k, ($2 ? "yes" : "no") }' |
    sort > "$out/$name.steps"
  profile_both_ways TIMMC_DWCONV xnnpack all "$out/$name" "$out/$name" |
    join - "$out/$name.steps" > "$out/$name.joined"
  awk -v name="$name" '{ printf "%-36s %-24s %6s %9.3f %9.3f %6.2fx\n", $1, $5, $6, $2, $3, $4
                         x += $2; o += $3; if ($6 == "yes") { cx += $2; co += $3 } }
    END { if (!NR) { print name ": no depthwise layer timmc_dw.c runs"; exit }
          printf "%-36s %-24s %6s %9.3f %9.3f %6.2fx\n", name ": all", "", "", x, o, x / o
          if (co > 0) printf "%-36s %-24s %6s %9.3f %9.3f %6.2fx\n", name ": chosen", "", "", cx, co, cx / co }' \
    "$out/$name.joined"
done
