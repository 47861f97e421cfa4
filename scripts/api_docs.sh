#!/usr/bin/env bash
# The API reference (Doxygen over the public headers and docs/*.md) into build/docs/html: installs doxygen
# from Debian when missing, then runs the build's `docs` target (CMakeLists.txt, settings in docs/Doxyfile).
# Not needed to build or test unroll.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v doxygen >/dev/null; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq doxygen
fi
cmake -S . -B build >/dev/null  # configure again, so that CMake finds doxygen
cmake --build build --target docs
echo "API reference: build/docs/html/index.html"
