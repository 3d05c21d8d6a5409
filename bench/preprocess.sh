#!/bin/sh
# preprocess.sh [-r ROUNDS] [-n RUNS] [-t THREADS]
# timm's eval preprocessing of a 1920 x 1080 photo to 224 x 224 (resnet50's
# data config: bicubic, crop_pct 0.95, ImageNet mean/std) through
# timmc_image_preprocess (one thread), against resnet50's forward
# (--random-weights 1 --threads THREADS --bench 10), in the same run. Each
# round times both back to back; the medians over rounds of each side's
# median are printed with the CPU and the ratio in percent (target: under
# 5%). The photo is tests/image/astronaut.png upscaled in C
# (bench/preprocess_bench.c), so nothing large is stored. Programs go to
# $TIMMC_BENCH_OUT (default build/bench).
set -eu
export LC_ALL=C
cd "$(dirname "$0")/.."
rounds=3 runs=30 threads=2
while getopts r:n:t: opt; do
  case $opt in
    r) rounds=$OPTARG ;;
    n) runs=$OPTARG ;;
    t) threads=$OPTARG ;;
    *) exit 2 ;;
  esac
done
out=${TIMMC_BENCH_OUT:-build/bench}
mkdir -p "$out"
cc=${CC:-cc}

# the preprocessing benchmark (stb_image for the PNG; no libjpeg needed)
$cc -std=gnu11 -O2 -Iruntime bench/preprocess_bench.c runtime/timmc_image.c runtime/timmc_err.c runtime/timmc_file.c \
  -lm -o "$out/preprocess_bench"

# resnet50's runner
generator/timmc build models/specs/resnet50.json -o "$out" >/dev/null

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
cpu=$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo 2>/dev/null | head -1)
echo "cpu: ${cpu:-unknown} ($(nproc) cores)"
echo "preprocess: 1920x1080 -> 224x224 bicubic crop_pct 0.95, 1 thread, median of $runs runs; resnet50: --threads $threads --bench 10"
pre_all= net_all=
for r in $(seq "$rounds"); do
  pre=$("$out/preprocess_bench" "$runs" | sed -n 's/^median_ms: //p')
  net=$("$out/resnet50" --random-weights 1 --threads "$threads" --bench 10 | sed -n 's/^median_ms: //p')
  printf 'round %d: preprocess %s ms, resnet50 %s ms, %s%%\n' "$r" "$pre" "$net" \
    "$(awk "BEGIN {printf \"%.2f\", 100 * $pre / $net}")"
  pre_all="$pre_all $pre" net_all="$net_all $net"
done
pre=$(echo "$pre_all" | median)
net=$(echo "$net_all" | median)
echo "preprocess_median_ms: $pre"
echo "resnet50_median_ms: $net"
echo "ratio_percent: $(awk "BEGIN {printf \"%.2f\", 100 * $pre / $net}")"
