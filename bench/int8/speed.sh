#!/bin/sh
# speed.sh [-n RUNS] [-r ROUNDS] [SPEC.json...]
# int8 against float32 in the same run (docs/int8.md): for each int8 spec
# (default: resnet50 and mobilenetv3_large_100 features_only from
# bench/int8/specs/) and its float32 twin (the same spec, "precision":
# "f32"), at 1 and 2 threads, rounds of `--bench RUNS` back to back, int8
# then float32; the speed-up is the median over rounds of each round's
# ratio. Beside it, int8 over float32: the weights each reads (weights_x,
# checkpoint file bytes) and the packed weights each holds after init
# (packed_x): what XNNPACK holds (packed weights and operator state, the
# runner's xnnpack_bytes) plus timmc's own kernels' packed weights in static
# storage, which XNNPACK does not count: the panels of the layers that take
# timmc's float32 GEMM (AVX-512F) or int8 GEMM (AVX512-VNNI) on this CPU, as
# timmc_gemm_use and timmc_qgemm_use decide from the generator's choice in
# the model's C and TIMMC_GEMM / TIMMC_QGEMM, and the Winograd convolutions'
# biases. A line per model gives those bytes. Float weights are random
# (--random-weights 1); the int8 ones are calibrated on two photographs of
# examples/images.
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
# which of timmc's GEMMs this CPU runs (timmc_gemm_supported, timmc_qgemm_supported)
has() { grep -qw "$1" /proc/cpuinfo 2>/dev/null; }
gemm=0 qgemm=0
if [ "$(uname -m)" = x86_64 ] && has avx512f; then
  gemm=1
  if has avx512bw && has avx512_vnni; then qgemm=1; fi
fi
# own_bytes NAME.c: bytes of timmc's packed weights in static storage that a
# forward on this CPU uses (the GEMM panels the model's C declares in each
# `if (timmc_[q]gemm_use(/*chosen=*/C))` block it takes, Winograd's biases)
own_bytes() {
  awk -v gemm="$gemm" -v qgemm="$qgemm" -v genv="${TIMMC_GEMM:-}" -v qenv="${TIMMC_QGEMM:-}" '
    function takes(cpu, env) { return cpu && env != "none" && (env == "all" || /chosen=\*\/1/) }
    function size() { s = $0; sub(/^[^[]*\[/, "", s); sub(/\].*/, "", s); return s + 0 }
    /timmc_gemm_use\(/ { use = takes(gemm, genv) }
    /timmc_qgemm_use\(/ { use = takes(qgemm, qenv) }
    /static float packed\[/ { n += use * 4 * size(); use = 0 }
    /static unsigned char packed\[/ { n += use * size(); use = 0 }
    /^static float wino_bias\[/ { n += 4 * size() }
    END { print n + 0 }' "$1"
}
mb() { awk -v b="$1" 'BEGIN {printf "%.1f MB", b / 1e6}'; }
echo "cpu: ${cpu:-unknown} ($(nproc) cores), batch 1, $rounds rounds of $runs runs"
printf '%-34s %7s %9s %9s %8s %11s %11s\n' model threads int8_ms f32_ms speedup weights_x packed_x
notes=""
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
  qown=$(own_bytes "$out/$name.c") fown=$(own_bytes "$out/${name}_f32x.c")
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
      "$(awk "BEGIN {printf \"%.3f\", ($qx + $qown) / ($fx + $fown)}")"
  done
  notes="$notes$name packed after init: int8 $(mb $((qx + qown))) (XNNPACK $(mb "$qx"), timmc's"
  notes="$notes own $(mb "$qown")), float32 $(mb $((fx + fown))) (XNNPACK $(mb "$fx"), timmc's"
  notes="$notes own $(mb "$fown")); checkpoints $(mb "$(wc -c < "$q")") and $(mb "$(wc -c < "$f32")")
"
done
printf '%s' "$notes"
