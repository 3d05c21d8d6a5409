#!/bin/sh
# test.sh: installs what is missing, builds everything and runs the whole
# CTest suite (Lua unit tests and lint, runtime unit test, generated/ up to
# date, seed shapes, golden tests against timm, bad input, valgrind memcheck).
# Then builds it all again in build-asan with clang-14, ASan and UBSan
# (TIMMC_SANITIZE) plus the libFuzzer targets (TIMMC_FUZZ) and runs the suite
# there too. Then the ARM targets (tools/cross.sh): cross builds in
# build-aarch64 and build-armhf whose golden suite and seed suite run under
# qemu-user (but what would only repeat natively tested work: see below), the
# firmware example (examples/firmware) natively, from an install
# (find_package) and for aarch64 with embedded weights, and a size report per
# target. .ci/run calls this.
set -eu
cd "$(dirname "$0")/.."
sh tools/deps.sh
jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"
# (the Cortex-M checks run once, at the end, after their toolchain is installed)
(cd build && ctest --output-on-failure -j"$jobs" -E '^portable_cortex_m(_int8)?$')

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
(cd build-asan &&
  ctest --output-on-failure -j"$jobs" -E '^(lua_unit|lua_lint|generated_up_to_date|bench_scripts|no_heap_.*)$')

# --- the firmware example: timmc as a subproject, and from an install --------
fw_check() { # BUILD [EMULATOR...]: the example's runner saves weights, the program reads them
  b=$1
  shift
  "$@" "$b/classifier_runner" --random-weights 1 --save-weights "$b/w.safetensors"
  "$@" "$b/firmware" "$b/w.safetensors"
}
cmake -S examples/firmware -B build-fw
cmake --build build-fw -j"$jobs"
fw_check build-fw
cmake --install build --prefix build/install > /dev/null
cmake -S examples/firmware -B build-fw-installed -DFIRMWARE_FIND_PACKAGE=ON \
  -DCMAKE_PREFIX_PATH="$PWD/build/install"
cmake --build build-fw-installed -j"$jobs"
fw_check build-fw-installed
sh tools/size_report.sh build

# --- ARM targets under qemu-user ---------------------------------------------
# Every test that runs a binary goes through the emulator (tests/CMakeLists.txt),
# in one ctest run a target. XNNPACK's kernels run a few hundred times slower
# emulated (0.1-0.5 GFLOP/s a core here), so a cross build runs what the target
# can get wrong, and leaves to the native build above a case that would repeat
# there the work of another on the same C (seconds: aarch64's, emulated here):
#  - the golden suite (every family, numbers against timm, the JPEG case through
#    the sysroot's libjpeg) runs whole but for the *_gemm cases, neither built
#    nor run: they are there for timmc's GEMM, which only x86-64 has; on ARM
#    they would repeat the resnet50 goldens through XNNPACK (33 s); nor the
#    *_xnn_elementwise cases (setup C the native build runs) nor, on armhf,
#    the two slowest variants aarch64 runs (tests/CMakeLists.txt says why);
#  - with runtime_unit, winograd_vs_direct, image_preprocess, build_paths_embed
#    (embed_weights, and timmc build --target against CMake: byte-identical),
#    the int8 suite (tests/int8.cmake: armhf leaves out pq_resnet18, whose
#    layers its pq_r18_os8 runs; aarch64 runs every int8 case) and the portable
#    cases that take under a second natively (tests/portable.cmake);
#  - one no_heap_* case a target, with 2 threads, where natively eight run
#    (tests/memory.cmake says which and why; the eight took 49 s);
#  - example_features_demo is not built (TIMMC_BUILD_EXAMPLES=OFF): the emitted
#    API used directly is the same C natively, the aarch64 firmware example
#    below uses it on the target and seed_resnet50_features_forward_info checks
#    its feature_info there; it is a full-size resnet50 forward (22 s);
#  - every seed runs seed_*_info: the target binary's --info against
#    tests/seeds (feature_info, output shapes, arena within 1.10x of its bound);
#  - the forward (random weights, outputs of those shapes) runs for the 5 seeds
#    of EMULATED_SEED_FORWARDS (tests/CMakeLists.txt), 3.5 GFLOP in all: every
#    mobile and EfficientNet spec;
#  - the other 14 forward natively only (ctest -L slow_under_emulation runs
#    them in a cross build): ecaresnet101d_os8 (279 GFLOP, over 15 minutes
#    emulated), the three xception41 (37 GFLOP each), regnety_032_features (13
#    GFLOP, group convolutions: the slowest per GFLOP emulated),
#    resnest26d_features and densenet121 (14 and 11 GFLOP, about 100 s a target
#    together), resnet50 and ese_vovnet19b_dw (8.2 and 5.3 GFLOP, 36 and 39 s),
#    densenet121_unpooled, resnet50's other three heads and
#    ese_vovnet19b_dw_pooled; the golden suite runs every one of these
#    families under the emulator, at smaller sizes.
for target in aarch64 armhf; do
  t0=$(date +%s)
  if ! prefix=$(sh tools/cross.sh "$target"); then
    if [ "$target" = armhf ]; then
      echo "armhf: SKIPPED: tools/cross.sh could not prepare it (above says what is missing)"
      continue
    fi
    exit 1
  fi
  echo "$target: binaries run as: $prefix PROGRAM"
  cmake -S . -B "build-$target" -DCMAKE_TOOLCHAIN_FILE="cmake/toolchain-$target.cmake" \
    -DTIMMC_BUILD_EXAMPLES=OFF
  cmake --build "build-$target" -j"$jobs"
  # armhf: runtime_unit's check that mapped pages count in /proc/self/smaps
  # cannot hold under qemu-arm, whose smaps reports no resident pages
  skip='^$'
  [ "$target" = armhf ] && skip='^runtime_unit$'
  # (one run: its log, which compare_targets.sh reads, has every golden case,
  # and the seeds' forwards run beside the rest rather than before it)
  (cd "build-$target" &&
    ctest --output-on-failure -j"$jobs" -LE '^slow_under_emulation$' -E "$skip")
  sh tools/compare_targets.sh build "build-$target"
  sh tools/size_report.sh "build-$target"
  if [ "$target" = aarch64 ]; then
    # the firmware example for the board, with its weights linked in
    cmake -S examples/firmware -B build-fw-aarch64 \
      -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/toolchain-aarch64.cmake" \
      -DFIRMWARE_WEIGHTS="$PWD/build-fw/w.safetensors"
    cmake --build build-fw-aarch64 -j"$jobs"
    # shellcheck disable=SC2086
    $prefix build-fw-aarch64/firmware
  fi
  echo "$target: cross build and emulated suite took $(($(date +%s) - t0)) s"
done

# Cortex-M (docs/portable.md): the toolchain and qemu-system-arm from Debian,
# then the native build's portable_cortex_m and portable_cortex_m_int8 (left
# out of its first run above, so that they run once whether or not the
# toolchain was there before): the firmware images of two edge backbones, and
# an int8 one, under emulation give the host's outputs bit for bit (about a
# minute)
t0=$(date +%s)
if sh tools/cross_cortexm.sh >/dev/null; then
  (cd build && ctest --output-on-failure -j"$jobs" -R '^portable_cortex_m(_int8)?$')
  echo "cortex-m: firmware images and their check took $(($(date +%s) - t0)) s"
else
  echo "cortex-m: SKIPPED: tools/cross.sh cortex-m could not install the toolchain (above)"
fi
