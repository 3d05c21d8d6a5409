# lib.sh: what the layer benchmarks (wino_layers.sh, gemm_layers.sh,
# profile.sh) share; sourced from the project root.

# bench_options OPTSTRING "$@": -t THREADS, -n RUNS, -r ROUNDS (defaults 2,
# 10, 3) into threads, runs, rounds; any other option of OPTSTRING goes to the
# caller's extra_option OPT ARG. Sets bench_shift to what the caller shifts.
bench_options() {
  spec_opts=$1
  shift
  threads=2 runs=10 rounds=3
  while getopts "$spec_opts" opt; do
    case $opt in
      t) threads=$OPTARG ;;
      n) runs=$OPTARG ;;
      r) rounds=$OPTARG ;;
      \?) exit 2 ;;
      *) extra_option "$opt" "$OPTARG" ;;
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
