#!/usr/bin/env bash
# Generates the API reference from the public headers into build/docs/api/html (Doxygen from Debian,
# installed when missing). Not needed to build or test unroll.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v doxygen >/dev/null; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq doxygen
fi
mkdir -p build/docs/api
doxygen docs/Doxyfile
echo "API reference: build/docs/api/html/index.html"
