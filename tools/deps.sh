#!/bin/sh
# deps.sh: installs the Debian 12 packages timmc needs, only if any is missing.
set -eu
PACKAGES="gcc libc6-dev make cmake lua5.4 lua-cjson libcjson-dev libxnnpack-dev
          libpthreadpool-dev lua-busted lua-check libstb-dev libjpeg62-turbo-dev
          valgrind clang-14 libclang-rt-14-dev"
missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # shellcheck disable=SC2086
  apt-get install -y -q --no-install-recommends $missing
fi
