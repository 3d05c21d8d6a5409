# timmcDeps.cmake: what the runtime links, as imported targets timmc::XNNPACK
# (with its headers), timmc::pthreadpool and timmc::cjson. Debian ships XNNPACK
# shared only (libXNNPACK.so.0, with libcpuinfo.so.0 and libpthreadpool.so.0);
# under a toolchain file of this folder they are found in its sysroot.
foreach(lib XNNPACK pthreadpool cjson)
  if(NOT TARGET timmc::${lib})
    find_library(TIMMC_${lib}_LIBRARY ${lib})
    if(NOT TIMMC_${lib}_LIBRARY)
      message(FATAL_ERROR "timmc: lib${lib} not found (Debian: apt-get install libxnnpack-dev "
                          "libpthreadpool-dev libcjson-dev; for a cross target: sh tools/cross.sh)")
    endif()
    add_library(timmc::${lib} UNKNOWN IMPORTED GLOBAL)
    set_target_properties(timmc::${lib} PROPERTIES IMPORTED_LOCATION ${TIMMC_${lib}_LIBRARY})
  endif()
endforeach()
find_path(TIMMC_XNNPACK_INCLUDE_DIR xnnpack.h)
find_path(TIMMC_CJSON_INCLUDE_DIR cjson/cJSON.h)
if(NOT TIMMC_XNNPACK_INCLUDE_DIR OR NOT TIMMC_CJSON_INCLUDE_DIR)
  message(FATAL_ERROR "timmc: xnnpack.h or cjson/cJSON.h not found")
endif()
set_target_properties(timmc::XNNPACK PROPERTIES
                      INTERFACE_INCLUDE_DIRECTORIES ${TIMMC_XNNPACK_INCLUDE_DIR})
set_target_properties(timmc::cjson PROPERTIES
                      INTERFACE_INCLUDE_DIRECTORIES ${TIMMC_CJSON_INCLUDE_DIR})
