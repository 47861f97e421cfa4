#!/usr/bin/env bash
# Installs what unroll needs on Debian 12 (only what is missing) and configures build/ (Release, with the
# MPI component unroll::distributed).
# Sourced by scripts/main.sh and scripts/test.sh; safe to run again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# libopenmpi-dev + openmpi-bin: the opt-in data-parallel component (unroll::distributed), whose tests run
# under mpirun; the core library does not use them. dpkg-dev (dpkg-shlibdeps) + pkg-config: the package_deb
# test, which makes the .deb packages with cpack and builds a program against them with pkg-config.
# iproute2 (ip netns): the two-host tests, which join two network namespaces with a veth link.
# zipcmp, zipmerge, ziptool: Debian 12's libzip-dev CMake package (libzip-targets.cmake) refuses to load unless
# these three programs exist, but libzip-dev does not depend on them; without them a fresh machine stops at
# find_package(libzip).
packages=(g++ cmake make libxtensor-dev libxtensor-blas-dev xtl-dev libxsimd-dev libfmt-dev doctest-dev libopenblas-dev libzip-dev zipcmp zipmerge ziptool libcli11-dev
          libopenmpi-dev openmpi-bin dpkg-dev pkg-config iproute2)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "unroll setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}"
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DUNROLL_DISTRIBUTED=ON >/dev/null
