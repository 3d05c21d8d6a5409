#!/bin/sh
# speed.sh [-n RUNS] [-r ROUNDS] [SPEC.json...]
# int8 against float32 in the same run (docs/int8.md): for each int8 spec
# (default: resnet50 and mobilenetv3_large_100 features_only from
# bench/int8/specs/) and its float32 twin (the same spec, "precision":
# "f32"), at 1 and 2 threads, rounds of `--bench RUNS` back to back, int8
# then float32; the speed-up is the median over rounds of each round's
# ratio. Beside it: the weights each reads (checkpoint file bytes) and what
# XNNPACK holds after init (packed weights and operator state), int8 over
# float32. Float weights are random (--random-weights 1); the int8 ones are
# calibrated on two photographs of examples/images.
# Runners go to $TIMMC_BENCH_OUT/int8 (default build/bench/int8).
set -eu
cd "$(dirname "$0")/../.."
runs=20 rounds=5
while getopts n:r: opt; do
  case $opt in
    n) runs=$OPTARG ;;
    r) rounds=$OPTARG ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || set -- bench/int8/specs/resnet50_features_q.json \
  bench/int8/specs/mobilenetv3_large_100_features_q.json
out=${TIMMC_BENCH_OUT:-build/bench}/int8
mkdir -p "$out/speed_cal"
cp examples/images/chelsea.png examples/images/rocket.jpg "$out/speed_cal/"
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
field() { sed -n "s/^$1: //p"; }
cpu=$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo 2>/dev/null | head -1)
echo "cpu: ${cpu:-unknown} ($(nproc) cores), batch 1, $rounds rounds of $runs runs"
printf '%-34s %7s %9s %9s %8s %11s %11s\n' model threads int8_ms f32_ms speedup weights_x xnnpack_x
for spec in "$@"; do
  name=$(lua5.4 tools/spec.lua get "$spec" name)
  lua5.4 tools/spec.lua set "$spec" name="${name}_f32x" precision=f32 > "$out/${name}_f32x.json"
  generator/timmc build "$spec" -o "$out" >/dev/null
  generator/timmc build "$out/${name}_f32x.json" -o "$out" >/dev/null
  f32="$out/$name.speed.f32.safetensors" q="$out/$name.speed.int8.safetensors"
  "$out/$name" --random-weights 1 --save-weights "$f32"
  "$out/$name" --weights "$f32" --calibrate "$out/speed_cal" --calibration percentile \
    --save-weights "$q"
  wx=$(awk -v a="$(wc -c < "$q")" -v b="$(wc -c < "$f32")" 'BEGIN {printf "%.3f", a / b}')
  for t in 1 2; do
    qs="" fs="" rs="" qx="" fx=""
    for _ in $(seq "$rounds"); do
      rq=$("$out/$name" --weights "$q" --threads "$t" --bench "$runs")
      rf=$("$out/${name}_f32x" --weights "$f32" --threads "$t" --bench "$runs")
      a=$(printf '%s\n' "$rq" | field median_ms) b=$(printf '%s\n' "$rf" | field median_ms)
      qx=$(printf '%s\n' "$rq" | field xnnpack_bytes) fx=$(printf '%s\n' "$rf" | field xnnpack_bytes)
      qs="$qs $a" fs="$fs $b" rs="$rs $(awk "BEGIN {print $b / $a}")"
    done
    printf '%-34s %7d %9.2f %9.2f %7.2fx %11s %11s\n' "$name" "$t" "$(echo "$qs" | median)" \
      "$(echo "$fs" | median)" "$(echo "$rs" | median)" "$wx" \
      "$(awk "BEGIN {printf \"%.3f\", $qx / $fx}")"
  done
done
