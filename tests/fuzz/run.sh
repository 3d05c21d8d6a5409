#!/bin/sh
# run.sh [LIBFUZZER FLAGS...]     default flags: -runs=20000
# Builds the fuzz targets (fuzz_safetensors, fuzz_npy) with clang-14,
# libFuzzer, ASan and UBSan into $FUZZ_DIR (default /tmp/timmc-fuzz) and runs
# each from its seed corpus, one after the other. For a long run:
#   tests/fuzz/run.sh -max_total_time=600
# CTest runs the same targets when CMake is configured with TIMMC_FUZZ=ON.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
rt=$here/../../runtime
out=${FUZZ_DIR:-/tmp/timmc-fuzz}
cc=${CC:-clang-14}
[ $# -gt 0 ] || set -- -runs=20000
mkdir -p "$out"
for name in safetensors npy; do
  "$cc" -g -O1 -std=c11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -I"$rt" "$here/fuzz_$name.c" "$rt/timmc_st.c" "$rt/timmc_npy.c" "$rt/timmc_file.c" \
    "$rt/timmc_err.c" -lcjson -lm -o "$out/fuzz_$name"
done
for name in safetensors npy; do
  echo "== fuzz_$name $*"
  sh "$here/run_one.sh" "$out/fuzz_$name" "$name" "$out" "$@"
done
