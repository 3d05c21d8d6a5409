#!/bin/sh
# test.sh: installs what is missing, builds everything and runs the whole
# CTest suite (Lua unit tests and lint, runtime unit test, generated/ up to
# date, seed shapes, golden tests against timm, bad input, valgrind memcheck).
# Then builds it all again in build-asan with clang-14, ASan and UBSan
# (TIMMC_SANITIZE) plus the libFuzzer targets (TIMMC_FUZZ) and runs the suite
# there too. .ci/run calls this.
set -eu
cd "$(dirname "$0")/.."
sh tools/deps.sh
jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs")

# The sanitizer pass skips the tests that run no C of its build (the Lua unit
# tests, lint, generated/ up to date, the bench scripts, which build their own
# runners): they passed above and would only repeat. It skips
# no_heap_* too: they replace malloc and free with counters over glibc's
# allocator, which cannot coexist with ASan's (ASan's pointers reach glibc's
# free). The valgrind_* tests exist only in the plain build.
export UBSAN_OPTIONS=print_stacktrace=1
CC=clang-14 cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTIMMC_SANITIZE=ON -DTIMMC_FUZZ=ON
cmake --build build-asan -j"$jobs"
cd build-asan
ctest --output-on-failure -j"$jobs" -E '^(lua_unit|lua_lint|generated_up_to_date|bench_scripts|no_heap_.*)$'
