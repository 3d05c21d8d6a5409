# lib.sh: what the benchmarks (bench.sh, bound.sh, wino_layers.sh,
# gemm_layers.sh, elementwise_layers.sh, dw_layers.sh, profile.sh) share;
# sourced from the project root.

# bench_options OPTSTRING "$@": -t THREADS, -n RUNS, -r ROUNDS (defaults
# $default_threads or 2, 10, 3) into threads, runs, rounds (threads may be a
# list, 1,2, for the scripts that take one); any other option of OPTSTRING
# goes to the caller's extra_option OPT ARG (ARG empty for a flag). Sets
# bench_shift to what the caller shifts.
bench_options() {
  spec_opts=$1
  shift
  threads=${default_threads:-2} runs=10 rounds=3
  while getopts "$spec_opts" opt; do
    case $opt in
      t) threads=$OPTARG ;;
      n) runs=$OPTARG ;;
      r) rounds=$OPTARG ;;
      \?) exit 2 ;;
      *) extra_option "$opt" "${OPTARG:-}" ;;
    esac
  done
  bench_shift=$((OPTIND - 1))
}

# layers_begin SCRIPT "$@": what the per-layer scripts (gemm_layers.sh,
# elementwise_layers.sh, dw_layers.sh) take and print first: -t, -n, -r
# (bench_options; the caller shifts bench_shift), at least one SPEC.json (else
# the usage line and exit 2), the output directory out ($TIMMC_BENCH_OUT, by
# default build/SCRIPT), and the CPU, threads and rounds line.
layers_begin() {
  script=$1
  shift
  bench_options t:n:r: "$@"
  [ $# -gt "$bench_shift" ] ||
    { echo "usage: bench/$script.sh [-t THREADS] [-n RUNS] [-r ROUNDS] SPEC.json..." >&2; exit 2; }
  out=${TIMMC_BENCH_OUT:-build/$script}
  mkdir -p "$out"
  echo "cpu: $(cpu_name) ($(nproc) cores), threads: $threads, $rounds rounds of $runs runs"
}

# per_module PROFILE...: ms per run of each timm module in runner --profile
# reports (steps of one module summed), "module ms" sorted by module.
per_module() {
  cat "$@" | awk 'NF == 4 && $1 ~ /^[0-9]+$/ { s[$2] += $3 } END { for (k in s) print k, s[k] }' |
    sort
}

# median_rounds: lines "module a_ms b_ms", one per module and round, to
# "module a b ratio": the medians over rounds of each way's ms and of the
# rounds' a / b, sorted by module. A time under the profile's resolution
# (0.0001 ms) counts as half of it.
median_rounds() {
  sort | awk '
    function at_least(v) { return v > 0.00005 ? v : 0.00005 }
    { n[$1]++; x[$1, n[$1]] = $2; g[$1, n[$1]] = $3; q[$1, n[$1]] = at_least($2) / at_least($3) }
    function med(a, k, c,   i, j, t, v) {
      for (i = 1; i <= c; i++) v[i] = a[k, i]
      for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
      return v[int((c + 1) / 2)]
    }
    END { for (k in n) printf "%s %.4f %.4f %.4f\n", k, med(x, k, n[k]), med(g, k, n[k]), med(q, k, n[k]) }' |
    sort
}

# profile_both_ways VAR A B RUNNER PREFIX: RUNNER profiled (--bench $runs
# --profile, $threads threads, random weights) with VAR=A and VAR=B in
# alternating rounds ($rounds), each report in PREFIX.MODE.ROUND; prints
# median_rounds of the per-module times, "module a_ms b_ms a/b".
profile_both_ways() {
  for r in $(seq "$rounds"); do
    for mode in "$2" "$3"; do
      env "$1=$mode" "$4" --random-weights 1 --threads "$threads" --bench "$runs" --profile \
        > "$5.$mode.$r"
    done
  done
  for r in $(seq "$rounds"); do
    for mode in "$2" "$3"; do
      per_module "$5.$mode.$r" > "$5.$mode.$r.ms"
    done
    join "$5.$2.$r.ms" "$5.$3.$r.ms"
  done | median_rounds
}

# The CPU's model name.
cpu_name() {
  cpu=$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo 2>/dev/null | head -1)
  echo "${cpu:-unknown}"
}

# median: the median of the numbers on stdin (separated by spaces or lines).
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# ratio A B: A / B to 4 decimals.
ratio() { awk "BEGIN {printf \"%.4f\", $1 / $2}"; }

# timmc_ms RUNNER: its median ms (--bench $runs at $threads threads, random
# weights); a runner that fails stops the benchmark (under set -e).
timmc_ms() {
  report=$("$1" --random-weights 1 --threads "$threads" --bench "$runs") ||
    { echo "$(basename "$0"): $1 failed" >&2; return 1; }
  printf '%s\n' "$report" | sed -n 's/^median_ms: //p'
}

# fastest_rounds FILE: lines "model timmc: MS... deployed: MS..." (bound.sh's
# rounds) to the geometric mean over models of deployed's fastest round over
# timmc's fastest, and the lowest model: the rounds other work on a shared
# machine disturbed least. Prints nothing when no model has both.
fastest_rounds() {
  awk '{ o = ""; d = ""; side = ""
         for (i = 2; i <= NF; i++) {
           if ($i ~ /:$/) { side = $i; continue }
           if ($i !~ /^[0-9.]+$/) continue
           if (side == "timmc:" && (o == "" || $i + 0 < o)) o = $i + 0
           if (side == "deployed:" && (d == "" || $i + 0 < d)) d = $i + 0 }
         if (o != "" && d != "") { l += log(d / o); n++; if (lo == "" || d / o < lo) { lo = d / o; ln = $1 } } }
       END { if (n) printf "fastest round against fastest round: %.2fx in geometric mean, lowest %.2fx (%s)\n", exp(l / n), lo, ln }' "$1"
}
