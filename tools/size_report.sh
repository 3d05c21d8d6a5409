#!/bin/sh
# size_report.sh BUILD_DIR [NAME [PROGRAM]]
# What a device needs to run the model NAME (default g_resnet18_cls: a model
# built in BUILD_DIR by timmc_add_model, e.g. a golden case, or the firmware
# example's classifier): text, data and bss of the model's object, of the
# runtime (libtimmc_runtime.a) and of PROGRAM (default NAME, its runner; the
# firmware example's is firmware), and the shared libraries PROGRAM loads (its NEEDED entries, recursively), found in the target's
# sysroot (TIMMC_SYSROOT of a cross build) or on this host. Sizes come from the
# target's binutils (TRIPLE-size). The arena is the model object's bss.
set -eu
build=${1:?usage: size_report.sh BUILD_DIR [NAME [PROGRAM]]}
name=${2:-g_resnet18_cls}
program=${3:-$name}
cache="$build/CMakeCache.txt"
[ -f "$cache" ] || { echo "size_report.sh: $build is not a CMake build folder" >&2; exit 2; }
cached() { sed -n "s/^$1:[A-Z]*=//p" "$cache" | head -n 1; }
# the compiler: in the cache, or (set by a toolchain file) in CMakeFiles
cc=$(cached CMAKE_C_COMPILER)
[ -n "$cc" ] || cc=$(sed -n 's/^set(CMAKE_C_COMPILER "\(.*\)")$/\1/p' \
                       "$build"/CMakeFiles/*/CMakeCCompiler.cmake | head -n 1)
sysroot=$(cached TIMMC_SYSROOT)
triple=$("$cc" -dumpmachine)
size=size
command -v "$triple-size" > /dev/null && size="$triple-size"

obj=$(find "$build" -name "$name.c.o" -path "*${name}_model.dir*" | head -n 1)
[ -n "$obj" ] || obj=$(find "$build" -name "$name.c.o" | head -n 1)
runtime=$(find "$build" -name libtimmc_runtime.a | head -n 1)
runner=$(find "$build" -type f -name "$program" -perm -u+x | grep -v /emulated/ | head -n 1)
if [ -z "$obj" ] || [ -z "$runtime" ] || [ -z "$runner" ]; then
  echo "size_report.sh: $name.c.o, libtimmc_runtime.a or $program missing in $build" >&2
  exit 2
fi

row() { # LABEL FILE: text data bss of FILE (summed over an archive's members)
  "$size" -t "$2" 2>/dev/null | tail -n 1 |
    awk -v l="$1" '{ printf "  %-46s %10d %9d %11d\n", l, $1, $2, $3 }'
}
echo "target $triple (built in $build, sizes by $size)"
printf "  %-46s %10s %9s %11s\n" "" text data bss
row "model $name ($(basename "$obj"))" "$obj"
row "runtime (libtimmc_runtime.a)" "$runtime"
row "program $program (model, runtime, main)" "$runner"

# the shared libraries: NEEDED, recursively, as the target's loader finds them
dirs="/lib/$triple /usr/lib/$triple"
[ -n "$sysroot" ] && dirs="$sysroot/lib/$triple $sysroot/usr/lib/$triple"
find_lib() {
  for d in $dirs; do [ -e "$d/$1" ] && { echo "$d/$1"; return; }; done
}
needed() { readelf -d "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
seen=""
queue=$(needed "$runner")
echo "shared libraries it loads (the device needs them; the C library's are the OS's):"
total=0
while [ -n "$queue" ]; do
  lib=$(echo "$queue" | head -n 1)
  queue=$(echo "$queue" | sed 1d)
  case " $seen " in *" $lib "*) continue ;; esac
  seen="$seen $lib"
  path=$(find_lib "$lib")
  if [ -z "$path" ]; then
    printf "  %-46s (not found in %s)\n" "$lib" "$dirs"
    continue
  fi
  real=$(readlink -f "$path")
  row "$lib" "$real"
  case $lib in libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*) ;; *) total=$((total + $(stat -c %s "$real"))) ;; esac
  queue=$(printf "%s\n%s" "$queue" "$(needed "$real")" | sed '/^$/d')
done
echo "  files beyond the C library: $total bytes"
echo "Debian ships XNNPACK, pthreadpool, cpuinfo and cJSON as shared libraries only (no .a):"
echo "a fully static firmware image needs them built from source as static libraries"
echo "(XNNPACK's CMake: -DXNNPACK_LIBRARY_TYPE=static, with its cpuinfo and pthreadpool;"
echo "cJSON is one .c file) and a static C library, then -static."
