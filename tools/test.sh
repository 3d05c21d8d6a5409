#!/bin/sh
# test.sh: installs what is missing, builds everything and runs the whole
# CTest suite (Lua unit tests and lint, runtime unit test, generated/ up to
# date, seed shapes, golden tests against timm, bad input, valgrind memcheck).
# Then builds it all again in build-asan with clang-14, ASan and UBSan
# (TIMMC_SANITIZE) plus the libFuzzer targets (TIMMC_FUZZ) and runs the suite
# there too. Then the ARM targets (tools/cross.sh): cross builds in
# build-aarch64 and build-armhf whose golden suite and seed suite run under
# qemu-user (the seeds' forwards for seven of the specs: see below), the
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
# Every test that runs a binary goes through the emulator (tests/CMakeLists.txt).
# The golden suite (every family, numbers against timm, the JPEG case through
# the sysroot's libjpeg) runs whole, with runtime_unit, winograd_vs_direct,
# image_preprocess, no_heap_*, build_paths_embed (embed_weights, and timmc build
# --target against CMake: byte-identical) and example_features_demo.
# The seed suite (full-size models): emulated, XNNPACK's kernels run a few
# hundred times slower than natively (0.1-0.5 GFLOP/s a core here), so
#  - every seed runs seed_*_info: the target binary's --info against
#    tests/seeds (feature_info, output shapes, arena within 1.10x of its bound);
#  - the forward (random weights, outputs of those shapes) runs for the 7 seeds
#    in $seeds, 17 GFLOP in all: every mobile and EfficientNet spec, vovnet,
#    resnet50;
#  - the other 12 forward natively only (above): ecaresnet101d_os8 (279 GFLOP,
#    over 15 minutes emulated), the three xception41 (37 GFLOP each),
#    regnety_032_features (13 GFLOP, group convolutions: the slowest per GFLOP
#    emulated), resnest26d_features and densenet121 (14 and 11 GFLOP, about
#    100 s a target together; the golden suite runs their families here),
#    densenet121_unpooled, and another head of a network forwarded here
#    (ese_vovnet19b_dw_pooled, resnet50_features, resnet50_pooled,
#    resnet50_unpooled).
seeds='^seed_((efficientnet_b0_features_os16|mobilenetv2_100_pooled|mobilenetv3_large_100_features'
seeds="$seeds|mobilenetv4_conv_small_features|tf_efficientnet_lite0|ese_vovnet19b_dw|resnet50"
seeds="$seeds)_forward|.*_info)$"
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
  cmake -S . -B "build-$target" -DCMAKE_TOOLCHAIN_FILE="cmake/toolchain-$target.cmake"
  cmake --build "build-$target" -j"$jobs"
  # armhf: runtime_unit's check that mapped pages count in /proc/self/smaps
  # cannot hold under qemu-arm, whose smaps reports no resident pages
  skip='^seed_'
  [ "$target" = armhf ] && skip='^(seed_.*|runtime_unit)$'
  # (the seeds first: the last run's log is what compare_targets.sh reads)
  (cd "build-$target" &&
    ctest --output-on-failure -j"$jobs" -R "$seeds" &&
    ctest --output-on-failure -j"$jobs" -E "$skip")
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
