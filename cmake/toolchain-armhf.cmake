# toolchain-armhf.cmake: timmc (or a project using it) for 32-bit ARM Linux with
# hardware floating point (Debian armhf: ARMv7-A, VFPv3-D16; NEON is chosen by
# XNNPACK at run time), after sh tools/cross.sh armhf:
#   cmake -S . -B build-armhf -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-armhf.cmake
set(TIMMC_TARGET armhf)
set(TIMMC_TRIPLE arm-linux-gnueabihf)
set(TIMMC_QEMU qemu-arm)
set(CMAKE_SYSTEM_PROCESSOR arm)
include(${CMAKE_CURRENT_LIST_DIR}/cross-common.cmake)
