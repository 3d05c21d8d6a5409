#!/bin/sh
# wino_layers.sh [-t THREADS] [-n RUNS] [-r ROUNDS] SPEC.json
# Every 3x3 convolution Winograd can take, timed both ways in the model: the
# spec is built with "winograd": "never" and "always", the two runners are
# profiled (--bench RUNS --profile) in alternating rounds, and each layer's
# mean ms per run is printed both ways with the ratio and what "auto" (the
# cost model in generator/passes/winograd.lua) decides for it. This is how the
# cost model is checked on a machine: "auto" should mark the layers whose
# ratio is clearly above 1 and leave the others. Runners go to
# $TIMMC_BENCH_OUT (default build/wino_layers).
set -eu
export LC_ALL=C
cd "$(dirname "$0")/.."
. bench/lib.sh
bench_options t:n:r: "$@"
shift "$bench_shift"
[ $# -eq 1 ] || { echo "usage: bench/wino_layers.sh [-t THREADS] [-n RUNS] [-r ROUNDS] SPEC.json" >&2; exit 2; }
spec=$1
out=${TIMMC_BENCH_OUT:-build/wino_layers}
mkdir -p "$out"
name=$(lua5.4 tools/spec.lua get "$spec" name)
for mode in never always auto; do
  lua5.4 tools/spec.lua set "$spec" name="${name}_$mode" winograd=$mode > "$out/${name}_$mode.json"
  generator/timmc build "$out/${name}_$mode.json" -o "$out" > /dev/null
done
# the Winograd layers of a generated file, from its summary comments
wino_layers() { sed -n 's/^  \/\* \([^:]*\): conv .*Winograd F(4x4,3x3).*/\1/p' "$1" | sort -u; }
wino_layers "$out/${name}_always.c" > "$out/$name.always"
wino_layers "$out/${name}_auto.c" > "$out/$name.auto"
for r in $(seq "$rounds"); do
  for mode in never always; do
    "$out/${name}_$mode" --random-weights 1 --threads "$threads" --bench "$runs" --profile \
      > "$out/$name.$mode.$r"
  done
done
per_module "$out/$name".never.* > "$out/$name.never.ms"
per_module "$out/$name".always.* > "$out/$name.always.ms"
printf '%-44s %10s %10s %7s  %s\n' layer direct_ms wino_ms ratio auto
join "$out/$name.never.ms" "$out/$name.always.ms" | join - "$out/$name.always" |
  while read -r layer direct wino; do
    taken=direct
    grep -qx "$layer" "$out/$name.auto" && taken=winograd
    awk -v l="$layer" -v d="$direct" -v w="$wino" -v r="$rounds" -v t="$taken" \
      'BEGIN { printf "%-44s %10.3f %10.3f %6.2fx  %s\n", l, d / r, w / r, d / w, t }'
  done
