# lib.sh: what the benchmarks (bench.sh, bound.sh, wino_layers.sh,
# gemm_layers.sh, profile.sh) share; sourced from the project root.

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

# per_module PROFILE...: ms per run of each timm module in runner --profile
# reports (steps of one module summed), "module ms" sorted by module.
per_module() {
  cat "$@" | awk 'NF == 4 && $1 ~ /^[0-9]+$/ { s[$2] += $3 } END { for (k in s) print k, s[k] }' |
    sort
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
