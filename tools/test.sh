#!/bin/sh
# test.sh: installs what is missing, builds everything and runs the whole
# CTest suite (Lua unit tests and lint, runtime unit test, generated/ up to
# date, seed shapes, golden tests against timm, bad input). .ci/run calls this.
set -eu
cd "$(dirname "$0")/.."
sh tools/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
cd build
ctest --output-on-failure -j"$(nproc)"
