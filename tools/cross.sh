#!/bin/sh
# cross.sh TARGET   (TARGET: aarch64 or armhf)
# Prepares this Debian 12 host to build timmc for TARGET and to run what it
# builds under emulation, without touching the host's own packages:
#  - the cross compiler (gcc-TRIPLE, libc6-dev-ARCH-cross) and qemu-user, from Debian;
#  - a sysroot, $TIMMC_SYSROOT (default /opt/timmc-sysroot/TARGET), holding TARGET's
#    XNNPACK, pthreadpool, cJSON, cpuinfo, stb, libjpeg (libjpeg62-turbo, Pillow's JPEG
#    decoder) and what they depend on (the C library and its loader included),
#    unpacked from Debian's .debs with dpkg-deb -x. libjpeg's jconfig.h is in
#    usr/include/TRIPLE there: the toolchain files and `timmc build` add it with -isystem.
# No architecture is added to dpkg: TARGET's package index goes to a private apt
# state in the sysroot's .apt folder. (Installing libxnnpack-dev:arm64 through
# multiarch removes the host's XNNPACK and pthreadpool, which are not Multi-Arch:
# same, and python3-torch with them.) An index that fails to download (a mirror
# caught mid-sync) is retried once, then what is available is used; anything
# still missing is named and the script exits 1.
# Idempotent: a sysroot that is complete and works is kept as it is.
# Progress goes to stderr; stdout gets one line, the last of the output: the
# command prefix that runs a TARGET binary on this host, e.g.
#     prefix=$(sh tools/cross.sh aarch64) && $prefix build-aarch64/g_resnet18_cls --info
set -u
target=${1:-}
[ "$target" = cortex-m ] && exec sh "$(dirname "$0")/cross_cortexm.sh" # docs/portable.md
case $target in
  aarch64) triple=aarch64-linux-gnu debarch=arm64 qemu=qemu-aarch64 ;;
  armhf) triple=arm-linux-gnueabihf debarch=armhf qemu=qemu-arm ;;
  *) echo "usage: sh tools/cross.sh aarch64|armhf" >&2; exit 2 ;;
esac
sysroot=${TIMMC_SYSROOT:-/opt/timmc-sysroot/$target}
# what the runtime links (-lXNNPACK -lpthreadpool -lcjson -ljpeg), stb_image's header
# (runtime/timmc_image.c) and the C library the emulator loads them with; their
# dependencies are added from the index
ROOTS="libxnnpack-dev libpthreadpool-dev libcjson-dev libcpuinfo0 libc6 libstb-dev libjpeg62-turbo"
# and without their dependencies: libjpeg62-turbo-dev needs libjpeg62-turbo (above)
# and libc-dev, which is the cross compiler's libc6-dev-ARCH-cross here (the
# target's libc6-dev would bring a libc.so that names the host's /lib/TRIPLE/libc.so.6)
ALONE="libjpeg62-turbo-dev"
HOST_PACKAGES="gcc-$triple libc6-dev-$debarch-cross qemu-user"

say() { echo "cross.sh: $*" >&2; }
die() { say "$*"; exit 1; }

# --- the cross compiler and qemu-user (host packages, amd64) -----------------
missing=""
for p in $HOST_PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  say "installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2 || { say "apt-get update failed; retrying once"; apt-get update -q >&2; } ||
    say "apt-get update failed again; installing from the indexes that are there"
  # shellcheck disable=SC2086
  apt-get install -y -q --no-install-recommends $missing >&2 ||
    die "could not install$missing (the cross compiler and qemu-user for $target)"
fi

# --- the sysroot: TARGET's libraries from its .debs --------------------------
# compiles a small program against the sysroot and runs it with two threads
# under the emulator (the check that the sysroot is complete and that its
# loader and C library fit: qemu -L /usr/TRIPLE with two threads hangs); a
# sysroot made before stb or libjpeg were in ROOTS fails it and is unpacked again
check_sysroot() {
  [ -f "$sysroot/usr/include/xnnpack.h" ] && [ -f "$sysroot/usr/include/stb/stb_image.h" ] &&
    [ -f "$sysroot/usr/include/jpeglib.h" ] || return 1
  tmp=$(mktemp -d) || return 1
  cat > "$tmp/t.c" <<'EOF'
#include <stdio.h>
#include <pthreadpool.h>
#include <xnnpack.h>
#include <cjson/cJSON.h>
#include <jpeglib.h>
static void add(void *ctx, size_t i) { __atomic_fetch_add((size_t *)ctx, i, __ATOMIC_RELAXED); }
int main(void) {
  if (xnn_initialize(NULL) != xnn_status_success) return 1;
  pthreadpool_t pool = pthreadpool_create(2);
  size_t sum = 0;
  pthreadpool_parallelize_1d(pool, add, &sum, 1000, 0);
  pthreadpool_destroy(pool);
  cJSON *j = cJSON_Parse("[1]");
  printf("%zu %d\n", sum, cJSON_GetArraySize(j));
  cJSON_Delete(j);
  struct jpeg_decompress_struct d;
  struct jpeg_error_mgr e;
  d.err = jpeg_std_error(&e);
  jpeg_create_decompress(&d);
  jpeg_destroy_decompress(&d);
  return sum == 499500 ? 0 : 1;
}
EOF
  "$triple-gcc" -O2 -I"$sysroot/usr/include" -isystem "$sysroot/usr/include/$triple" \
    -L"$sysroot/usr/lib/$triple" -Wl,-rpath-link,"$sysroot/usr/lib/$triple" "$tmp/t.c" \
    -o "$tmp/t" -lXNNPACK -lpthreadpool -lcjson -ljpeg -lm >&2 &&
    out=$(timeout 60 $qemu -L "$sysroot" "$tmp/t") && [ "$out" = "499500 1" ]
  ok=$?
  rm -rf "$tmp"
  return $ok
}

if check_sysroot; then
  say "$sysroot: complete (kept)"
else
  say "$sysroot: unpacking $target's packages"
  mkdir -p "$sysroot/.apt/lists/partial" "$sysroot/.apt/cache/archives/partial" "$sysroot/.apt/debs" ||
    die "cannot create $sysroot"
  # apt with the host's sources, amd64 plus TARGET's architecture, and its
  # lists and cache in the sysroot: dpkg's own architectures stay as they are
  apt_private() {
    apt-get -q -o APT::Architectures::="$debarch" -o Dir::State::Lists="$sysroot/.apt/lists" \
      -o Dir::Cache="$sysroot/.apt/cache" -o APT::Sandbox::User=root "$@"
  }
  apt_private update >&2 || { say "apt-get update ($debarch) failed; retrying once"; apt_private update >&2; } ||
    say "apt-get update ($debarch) failed again; going on with the indexes that did" \
        "download (a failed security index means $debarch packages without its updates)"
  roots="" alone=""
  for p in $ROOTS; do roots="$roots $p:$debarch"; done
  for p in $ALONE; do alone="$alone $p:$debarch"; done
  # the packages and their dependencies, recursively (virtual ones, <...>, left out)
  # shellcheck disable=SC2086
  pkgs=$( (apt-cache -o APT::Architectures::="$debarch" -o Dir::State::Lists="$sysroot/.apt/lists" \
             -o Dir::Cache="$sysroot/.apt/cache" depends --recurse --no-recommends --no-suggests \
             --no-conflicts --no-breaks --no-replaces --no-enhances $roots 2>/dev/null |
           grep -v '^[ <]'; echo "$alone" | tr ' ' '\n' | grep .) | sort -u)
  absent=""
  for p in $roots $alone; do
    echo "$pkgs" | grep -qx "$p" || absent="$absent $p"
  done
  [ -z "$absent" ] ||
    die "not in the package index for $debarch:$absent (apt-get update failed for them?); nothing unpacked"
  say "packages: $(echo "$pkgs" | tr '\n' ' ')"
  rm -f "$sysroot"/.apt/debs/*.deb
  # what an earlier unpack left goes first (the folder has .apt/debs: this
  # script made it), so the sysroot holds these packages and nothing else
  find "$sysroot" -mindepth 1 -maxdepth 1 ! -name .apt -exec rm -rf {} +
  # shellcheck disable=SC2046
  (cd "$sysroot/.apt/debs" && apt_private download $(echo "$pkgs" | tr '\n' ' ')) >&2 ||
    die "apt-get download failed for some of: $(echo "$pkgs" | tr '\n' ' ')"
  for deb in "$sysroot"/.apt/debs/*.deb; do
    dpkg-deb -x "$deb" "$sysroot" || die "dpkg-deb -x $deb failed"
  done
  # absolute symlinks (e.g. a .so pointing at /lib/...) would leave the
  # sysroot: point them inside it
  find "$sysroot" -path "$sysroot/.apt" -prune -o -type l -print | while read -r link; do
    dest=$(readlink "$link")
    case $dest in /*) ln -sfn "$sysroot$dest" "$link" ;; esac
  done
  check_sysroot ||
    die "$sysroot: unpacked, but a test program does not build or run under $qemu (see above)"
  rm -rf "$sysroot/.apt/lists" "$sysroot/.apt/cache" # the .debs stay, as a record
  say "$sysroot: ready"
fi
echo "$qemu -L $sysroot"
