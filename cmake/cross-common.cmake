# cross-common.cmake: the part of toolchain-aarch64.cmake and toolchain-armhf.cmake
# they share. Set before including: TIMMC_TARGET, TIMMC_TRIPLE, TIMMC_QEMU.
# The compiler is Debian's TRIPLE-gcc; XNNPACK, pthreadpool and cJSON come from
# the sysroot tools/cross.sh makes: TIMMC_SYSROOT (-D or environment), default
# /opt/timmc-sysroot/TARGET. Tests run under qemu-user with that sysroot's
# loader and libraries (CMAKE_CROSSCOMPILING_EMULATOR), the prefix tools/cross.sh prints.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER ${TIMMC_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${TIMMC_TRIPLE}-g++)
if(NOT TIMMC_SYSROOT)
  if(DEFINED ENV{TIMMC_SYSROOT})
    set(TIMMC_SYSROOT $ENV{TIMMC_SYSROOT})
  else()
    set(TIMMC_SYSROOT /opt/timmc-sysroot/${TIMMC_TARGET})
  endif()
endif()
set(TIMMC_SYSROOT ${TIMMC_SYSROOT} CACHE PATH "the ${TIMMC_TARGET} sysroot (tools/cross.sh ${TIMMC_TARGET})")
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES TIMMC_SYSROOT)
if(NOT EXISTS ${TIMMC_SYSROOT}/usr/include/xnnpack.h)
  message(FATAL_ERROR "${TIMMC_SYSROOT} holds no ${TIMMC_TARGET} XNNPACK: run "
                      "sh tools/cross.sh ${TIMMC_TARGET} (or set TIMMC_SYSROOT)")
endif()
set(CMAKE_LIBRARY_ARCHITECTURE ${TIMMC_TRIPLE})
# the sysroot's multiarch headers (libjpeg's jconfig.h), which the cross compiler,
# given no --sysroot, does not search by itself (as -isystem on every C file; not
# cached, so a build folder configured before this line gets it too)
set(CMAKE_C_STANDARD_INCLUDE_DIRECTORIES ${TIMMC_SYSROOT}/usr/include/${TIMMC_TRIPLE})
# libraries and headers from the sysroot only; programs (lua5.4, the generator) from the host
set(CMAKE_FIND_ROOT_PATH ${TIMMC_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
# libXNNPACK.so.0's own dependencies (libcpuinfo, libpthreadpool) are in the sysroot too
set(CMAKE_EXE_LINKER_FLAGS_INIT "-Wl,-rpath-link,${TIMMC_SYSROOT}/usr/lib/${TIMMC_TRIPLE}")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-Wl,-rpath-link,${TIMMC_SYSROOT}/usr/lib/${TIMMC_TRIPLE}")
set(CMAKE_CROSSCOMPILING_EMULATOR ${TIMMC_QEMU} -L ${TIMMC_SYSROOT})
