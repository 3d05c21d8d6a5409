#!/bin/sh
# elementwise_layers.sh [-t THREADS] [-n RUNS] [-r ROUNDS] SPEC.json...
# The steps timmc's elementwise kernels take (runtime/timmc_rt.c: a
# BatchNorm with nothing to fold into, as a per-channel affine; a gate and
# the residual add after it, in one pass; a residual add; global average
# pooling), timed both ways in the model: one runner per spec, profiled
# (--bench RUNS --profile) with TIMMC_ELEMENTWISE=xnnpack (XNNPACK's
# operators: a depthwise 1x1 convolution; a multiply then an add; an add;
# global average pooling) and by default (timmc's kernels) in alternating
# rounds. Per layer (a module's
# steps summed: resnest's conv2 is its pool and its radix sum): the step's
# kind and input shape for a pool, output shape otherwise, each way's ms
# per run (median over rounds) and the median of the rounds' ratios; then
# the sums per spec. Runners go to $TIMMC_BENCH_OUT (default
# build/elementwise_layers).
set -eu
export LC_ALL=C
cd "$(dirname "$0")/.."
. bench/lib.sh
layers_begin elementwise_layers "$@"
shift "$bench_shift"
printf '%-40s %-28s %9s %9s %7s\n' layer "step[shape]" xnn_ms timmc_ms ratio
for spec in "$@"; do
  name=$(lua5.4 tools/spec.lua get "$spec" name)
  generator/timmc build "$spec" -o "$out" > /dev/null
  # module, kind of step and output shape of each, from the generated file's summaries
  sed -n 's/^  \/\* \([^:]*\): batchnorm .* as a per-channel affine.*-> \[\(.*\)\] \*\/$/\1 affine[\2]/p
          s/^  \/\* \([^:]*\): x \* gate + residual.*-> \[\(.*\)\] \*\/$/\1 gate+add[\2]/p
          s/^  \/\* \([^:]*\): global avg pool; \[\(.*\)\] -> .*$/\1 mean[\2]/p
          s/^  \/\* \([^:]*\): add[,;].*-> \[\(.*\)\] \*\/$/\1 add[\2]/p' \
    "$out/$name.c" | awk '{ m = $1; $1 = ""; gsub(/ /, ""); print m, $0 }' | sort > "$out/$name.steps"
  profile_both_ways TIMMC_ELEMENTWISE xnnpack timmc "$out/$name" "$out/$name" |
    join - "$out/$name.steps" > "$out/$name.joined"
  awk -v name="$name" '{ printf "%-40s %-28s %9.3f %9.3f %6.2fx\n", $1, $5, $2, $3, $4; x += $2; o += $3 }
    END { if (NR) printf "%-40s %-28s %9.3f %9.3f %6.2fx\n", name ": all", "", x, o, x / o
          else print name ": no step of these kinds" }' "$out/$name.joined"
done
