#!/bin/sh
# bound.sh [-t THREADS,...] [-n RUNS] [-r ROUNDS] [-b BENCH_OUTPUT] [SPEC.json...]
# How fast any implementation could run each spec on this CPU in float32, and
# how close timmc and timm deployed come. For each spec (default: the seven
# of bench/specs/):
#   direct GFLOP  the multiply-adds of every layer as written (ops.flops, as
#                 bench/layers.lua lists them; 2 FLOPs per multiply-add);
#   work GFLOP    the same, but a layer timmc runs as Winograd F(4x4,3x3) (the
#                 generated NAME.c says which) counts 36/144 of its direct
#                 products: the transforms are left out, so this is less
#                 than the work timmc does;
#   bound_ms      work at the CPU's FMA peak (bench/peak.c, its fastest run at
#                 those threads, before the table and after it): no
#                 implementation doing timmc's work runs faster;
#   timmc_ms, deploy_ms, speed-up
#                 ROUNDS rounds (default 3), each `NAME --bench RUNS` (default
#                 10) then timm deployed (bench/timm_baseline.py: channels_last,
#                 torch.jit.trace + freeze + optimize_for_inference) back to
#                 back: the medians of the times and of the rounds' ratios, as
#                 bench/bench.sh gives them (without timm eager). timm comes
#                 from PYTHONPATH and Debian's python3-torch; without them the
#                 deployed columns say -. -b BENCH_OUTPUT takes them from what
#                 bench/bench.sh printed instead;
#   best          deploy_ms / bound_ms: the highest speed-up over timm
#                 deployed any implementation doing timmc's work can reach;
#   timmc %pk     work FLOPs / timmc's time / peak;
#   depl %pk      direct FLOPs / deployed's time / peak (oneDNN runs its
#                 convolutions direct, so it does the direct products).
# One table per thread count (-t, default 1,2; with -b, the thread counts
# bench.sh measured), each with the CPU, the peak, the geometric means of
# the speed-up and of best, and speed-up / best (the share of what is
# attainable that timmc reaches: docs/speed.md's conclusion). After the
# rounds, the speed-up of each side's fastest round over the other's, which
# other work on a shared machine disturbs least. Runners and
# peak go to $TIMMC_BENCH_OUT (default build/bench). Typical use:
#   PYTHONPATH=path/to/pytorch-image-models sh bench/bound.sh -t 1,2
set -eu
export LC_ALL=C
cd "$(dirname "$0")/.."
. bench/lib.sh
bench_file="" default_threads=1,2
extra_option() { bench_file=$2; } # -b
bench_options t:n:r:b: "$@"
shift "$bench_shift"
thread_list=$threads
[ $# -gt 0 ] || set -- bench/specs/*.json
out=${TIMMC_BENCH_OUT:-build/bench}
mkdir -p "$out"
if [ -n "$bench_file" ]; then
  [ -r "$bench_file" ] || { echo "bound.sh: cannot read $bench_file" >&2; exit 2; }
  thread_list=$(sed -n 's/^cpu: .*threads: \([0-9]*\),.*/\1/p' "$bench_file" | tr '\n' ',')
  [ -n "$thread_list" ] || { echo "bound.sh: no bench.sh table in $bench_file" >&2; exit 2; }
fi

${CC:-cc} -O2 -pthread bench/peak.c -o "$out/peak"

# work FLOPs of each spec, once: "name direct work" lines in $out/bound.flops
: > "$out/bound.flops"
for spec in "$@"; do
  name=$(lua5.4 tools/spec.lua get "$spec" name)
  generator/timmc build "$spec" -o "$out" > /dev/null
  # the layers the generated C runs as Winograd, from its summary comments
  sed -n 's/^  \/\* \([^:]*\): conv .*Winograd F(4x4,3x3).*/\1/p' "$out/$name.c" | sort -u \
    > "$out/$name.wino"
  lua5.4 bench/layers.lua "$spec" |
    awk -F '\t' -v n="$name" -v w="$out/$name.wino" '
      BEGIN { while ((getline l < w) > 0) wino[l] = 1 }
      { d += $3; k += ($1 in wino) ? $3 * 36 / 144 : $3; if ($1 in wino) seen++ }
      END { printf "%s %.0f %.0f %d\n", n, d, k, seen }' >> "$out/bound.flops"
  # every Winograd layer of the C must be one layers.lua lists
  listed=$(awk -v n="$name" '$1 == n { print $4 }' "$out/bound.flops")
  [ "$listed" -eq "$(wc -l < "$out/$name.wino")" ] ||
    { echo "bound.sh: $name: Winograd layers of $name.c missing from bench/layers.lua" >&2; exit 1; }
  # the FLOPs layers.lua sums are the runner's (--info)
  info=$("$out/$name" --info | lua5.4 -e 'print(string.format("%.0f",
    require("cjson").decode(io.read("a")).flops))')
  awk -v n="$name" -v i="$info" '$1 == n && ($2 - i > 0.001 * i || i - $2 > 0.001 * i) {
    printf "bound.sh: %s: layers.lua sums %s FLOPs, --info says %s\n", n, $2, i; exit 1 }' \
    "$out/bound.flops" >&2
done

for threads in $(echo "$thread_list" | tr ',' ' '); do
  peak_report=$("$out/peak" -t "$threads")
  peak=$(printf '%s\n' "$peak_report" | sed -n 's/^best_gflops_N: //p')
  isa=$(printf '%s\n' "$peak_report" | sed -n 's/^isa: //p')
  if [ -n "$bench_file" ]; then
    # this thread count's rows of bench.sh: name timmc_ms deploy_ms speed-up
    awk -v t="$threads" '
      /^cpu: / { s = $0; sub(/.*threads: /, "", s); sub(/,.*/, "", s); on = (s == t); next }
      on && NF >= 7 && $2 ~ /^[0-9.]+$/ { v = $6; sub(/x$/, "", v); print $1, $2, $4, v }' \
      "$bench_file" > "$out/bound.times"
  else
    # ROUNDS rounds of timmc then timm deployed, back to back, as bench.sh
    # runs them (without eager); the speed-up is the median of the rounds' ratios
    : > "$out/bound.times"
    : > "$out/bound.rounds"
    for spec in "$@"; do
      name=$(lua5.4 tools/spec.lua get "$spec" name)
      ours="" deps="" ratios=""
      for _ in $(seq "$rounds"); do
        o=$(timmc_ms "$out/$name")
        ours="$ours $o"
        d=$(/usr/bin/python3 bench/timm_baseline.py "$spec" "$threads" "$runs" deployed 2>&1 |
          sed -n 's/^median_ms: //p') || d=""
        if [ -n "$d" ]; then
          deps="$deps $d" ratios="$ratios $(ratio "$d" "$o")"
        fi
      done
      if [ -n "$deps" ]; then
        echo "$name $(echo "$ours" | median) $(echo "$deps" | median) $(echo "$ratios" | median)"
      else
        echo "$name $(echo "$ours" | median) - -"
      fi >> "$out/bound.times"
      echo "$name timmc:$ours deployed:${deps:- -}" >> "$out/bound.rounds"
    done
    # the peak again after the table; the faster of the two stands
    peak=$("$out/peak" -t "$threads" | sed -n 's/^best_gflops_N: //p' |
      awk -v p="$peak" '{ print ($1 > p) ? $1 : p }')
  fi
  echo "cpu: $(cpu_name) ($(nproc) cores), threads: $threads, FMA peak $peak GFLOP/s ($isa, bench/peak.c)"
  rm -f "$out/bound.times.ratios"
  printf '%-28s %7s %7s %8s %8s %8s %8s %7s %9s %9s\n' model direct_GF work_GF bound_ms \
    timmc_ms deploy_ms speed-up best "timmc %pk" "depl %pk"
  for spec in "$@"; do
    name=$(lua5.4 tools/spec.lua get "$spec" name)
    awk -v n="$name" -v p="$peak" -v tf="$out/bound.times" '
      BEGIN { while ((getline l < tf) > 0) { split(l, f, " "); if (f[1] == n) { o = f[2]; d = f[3]; r = f[4] } } }
      $1 == n {
        if (o == "") { printf "bound.sh: no timmc time for %s\n", n > "/dev/stderr"; exit 1 }
        b = $3 / (p * 1e6)
        printf "%-28s %7.2f %7.2f %8.2f %8.2f", n, $2 / 1e9, $3 / 1e9, b, o
        if (d != "-" && d != "") {
          printf " %8.2f %7.2fx %6.2fx %8.0f%% %8.0f%%\n", d, r, d / b, 100 * b / o, 100 * $2 / (d * 1e6) / p
          printf "%s %s %s\n", n, r, d / b >> (tf ".ratios")
        } else
          printf " %8s %8s %7s %8.0f%% %9s\n", "-", "-", "-", 100 * b / o, "-"
      }' "$out/bound.flops"
  done
  if [ -s "$out/bound.times.ratios" ]; then
    awk -v t="$threads" '{ lr += log($2); lb += log($3); n++
        if (mr == "" || $2 < mr) mr = $2; if (mb == "" || $3 < mb) mb = $3
        if (mf == "" || $2 / $3 < mf) { mf = $2 / $3; mn = $1 } }
      END { printf "geometric mean speed-up over timm deployed: %.2fx, best attainable: %.2fx (%d models, %d threads)\n", exp(lr / n), exp(lb / n), n, t
            printf "lowest speed-up: %.2fx, lowest best attainable: %.2fx\n", mr, mb
            printf "speed-up / best attainable (timmc %%pk): %.0f%% in geometric mean, lowest %.0f%% (%s)\n", 100 * exp((lr - lb) / n), 100 * mf, mn }' \
      "$out/bound.times.ratios"
    rm -f "$out/bound.times.ratios"
  fi
  if [ -z "$bench_file" ]; then
    echo "the rounds (ms):"
    cat "$out/bound.rounds"
    fastest_rounds "$out/bound.rounds"
  fi
done
exit 0
