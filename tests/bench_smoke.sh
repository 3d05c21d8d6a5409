#!/bin/sh
# bench_smoke.sh WORK: the shipped benchmark scripts run and print what they
# promise, on a small golden spec (one round of one run: no figures are
# judged). bench.sh -d: a row with timmc's and the all-direct times (the timm
# column may say unavailable); wino_layers.sh: a row per layer Winograd can
# take, both times, and auto's decision; gemm_layers.sh, elementwise_layers.sh,
# dw_layers.sh (on a mobilenetv3) and profile.sh their rows; bound.sh the CPU's
# FMA peak and a row with the FLOPs, the bound and timmc's time, and with -b
# the times of a bench.sh table and speed-up / best from them; fastest_rounds
# (bench/lib.sh) its figures from made-up rounds.
set -eu
work=$1
spec=tests/golden/specs/g_resnet18_cls.json
fail() { echo "bench_smoke: $*" >&2; exit 1; }
out=$(TIMMC_BENCH_OUT="$work/bench" PYTHONPATH= sh bench/bench.sh -n 1 -r 1 -d "$spec")
printf '%s\n' "$out"
printf '%s\n' "$out" | grep -Eq '^cpu: .*threads: 2' || fail "bench.sh named no CPU and threads"
printf '%s\n' "$out" | grep -Eq '^g_resnet18_cls +[0-9.]+ .* [0-9.]+ +[0-9.]+x  timmc:' ||
  fail "bench.sh printed no row with timmc's and the direct times"
out=$(TIMMC_BENCH_OUT="$work/layers" sh bench/wino_layers.sh -n 1 -r 1 "$spec")
printf '%s\n' "$out"
# resnet18 (64x64): 13 3x3 stride-1 convs (all but the three strided firsts of layer2-4)
rows=$(printf '%s\n' "$out" | grep -Ec '^layer[1-4]\.[01]\.conv[12] +[0-9.]+ +[0-9.]+ +[0-9.]+x  (winograd|direct)$')
[ "$rows" -eq 13 ] || fail "wino_layers.sh printed $rows layer rows, expected 13"
out=$(TIMMC_BENCH_OUT="$work/gemm" sh bench/gemm_layers.sh -n 1 -r 1 "$spec")
printf '%s\n' "$out"
# resnet18: 15 1x1 and 3x3 convs timmc's GEMM can take (the others are 7x7 or Winograd's)
rows=$(printf '%s\n' "$out" | grep -Ec '^layer[1-4]\.[01]\.[a-z0-9.]+ +[0-9]+ [13]x[13] [0-9]+->[0-9]+ s[12] +[0-9.]+ +[0-9.]+ +[0-9.]+x  (gemm|xnnpack)$')
[ "$rows" -eq 15 ] || fail "gemm_layers.sh printed $rows layer rows, expected 15"
out=$(TIMMC_BENCH_OUT="$work/elementwise" sh bench/elementwise_layers.sh -n 1 -r 1 \
  tests/golden/specs/g_densenet121_cls.json tests/golden/specs/g_ecaresnet50d_os16.json "$spec")
printf '%s\n' "$out"
# densenet121: 58 dense layers' norm1, 3 transitions' norm and norm5; ecaresnet50d: 16
# blocks; resnet18: 8 blocks
rows=$(printf '%s\n' "$out" | grep -Ec '^features\.[a-z0-9.]+ +affine\[1,[0-9,]+\] +[0-9.]+ +[0-9.]+ +[0-9.]+x$')
[ "$rows" -eq 62 ] || fail "elementwise_layers.sh printed $rows affine rows, expected 62"
rows=$(printf '%s\n' "$out" | grep -Ec '^layer[1-4]\.[0-9]+\.act3 +gate\+add\[1,[0-9,]+\] +[0-9.]+ +[0-9.]+ +[0-9.]+x$')
[ "$rows" -eq 16 ] || fail "elementwise_layers.sh printed $rows gate+add rows, expected 16"
rows=$(printf '%s\n' "$out" | grep -Ec '^layer[1-4]\.[01]\.act2 +add\[1,[0-9,]+\] +[0-9.]+ +[0-9.]+ +[0-9.]+x$')
[ "$rows" -eq 8 ] || fail "elementwise_layers.sh printed $rows add rows, expected 8"
out=$(TIMMC_BENCH_OUT="$work/dw" sh bench/dw_layers.sh -n 1 -r 1 \
  tests/golden/specs/g_mobilenetv3_small_050.json)
printf '%s\n' "$out"
# mobilenetv3_small_050: 11 blocks with a depthwise conv, 3x3 and 5x5, stride 1 and 2
rows=$(printf '%s\n' "$out" | grep -Ec '^blocks\.[0-9]\.[0-9]\.conv_dw +k[35]s[12]\[1,[0-9,]+\] +(yes|no) +[0-9.]+ +[0-9.]+ +[0-9.]+x$')
[ "$rows" -eq 11 ] || fail "dw_layers.sh printed $rows depthwise rows, expected 11"
out=$(TIMMC_BENCH_OUT="$work/profile" sh bench/profile.sh -n 1 -r 1 -p 100 "$spec")
printf '%s\n' "$out"
printf '%s\n' "$out" | grep -Eq '^pointwise 1x1 s2 +[0-9.]+ +[0-9.]+% +[0-9.]+ +[0-9]+%$' ||
  fail "profile.sh printed no row for resnet18's strided 1x1 convolutions"
out=$(TIMMC_BENCH_OUT="$work/bound" PYTHONPATH= sh bench/bound.sh -t 1 -n 1 -r 1 "$spec")
printf '%s\n' "$out"
printf '%s\n' "$out" | grep -Eq '^cpu: .*threads: 1, FMA peak [0-9.]+ GFLOP/s' ||
  fail "bound.sh named no CPU, threads and peak"
printf '%s\n' "$out" | grep -Eq '^g_resnet18_cls +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +- ' ||
  fail "bound.sh printed no row with the FLOPs, the bound and timmc's time"
# bound.sh -b: the times from a bench.sh table (here a made-up one: timmc 10 ms,
# deployed 15 ms, 1.50x), best = deployed / bound, and speed-up / best in the summary
printf '%s\n' "cpu: test (2 cores), threads: 1, 1 rounds of 1 runs" \
  "g_resnet18_cls 10.00 30.00 15.00 3.00x 1.50x 100.0  timmc: 10.00" > "$work/bench.txt"
out=$(TIMMC_BENCH_OUT="$work/bound" sh bench/bound.sh -b "$work/bench.txt" "$spec")
printf '%s\n' "$out"
row=$(printf '%s\n' "$out" | grep -E '^g_resnet18_cls ') || fail "bound.sh -b printed no row"
set -- $row
[ "$5 $6 $7" = "10.00 15.00 1.50x" ] || fail "bound.sh -b took '$5 $6 $7', expected '10.00 15.00 1.50x'"
# 100 x 1.5 / (15 / bound), the bound as the row rounds it: within a point
share=$(printf '%s\n' "$out" |
  sed -n 's/^speed-up \/ best attainable (timmc %pk): \([0-9]*\)% in geometric mean, lowest \1% (g_resnet18_cls)$/\1/p')
awk -v s="${share:-x}" -v b="$4" 'BEGIN { e = 100 * 1.5 / (15 / b); exit !(s ~ /^[0-9]+$/ && s - e <= 1 && e - s <= 1) }' ||
  fail "bound.sh -b gave speed-up / best '${share:-none}', expected 100 x 1.5 / (15 / $4)"
# fastest_rounds (bench/lib.sh, bound.sh's last line): a 15 / 10 = 1.5x, b 6 / 5 = 1.2x
printf '%s\n' "a timmc: 10 12 deployed: 20 15" "b timmc: 5 deployed: 7 6" "c timmc: 4 deployed: -" \
  > "$work/rounds.txt"
out=$(. bench/lib.sh && fastest_rounds "$work/rounds.txt")
[ "$out" = "fastest round against fastest round: 1.34x in geometric mean, lowest 1.20x (b)" ] ||
  fail "fastest_rounds printed '$out'"
