# toolchain-aarch64.cmake: timmc (or a project using it) for 64-bit ARM Linux
# (Raspberry Pi 3/4/5 and Jetson on a 64-bit OS), after sh tools/cross.sh aarch64:
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake
set(TIMMC_TARGET aarch64)
set(TIMMC_TRIPLE aarch64-linux-gnu)
set(TIMMC_QEMU qemu-aarch64)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/cross-common.cmake)
