#!/usr/bin/env bash
# CTest "package_deb": the Debian packages of a build (cmake/packaging.cmake), checked the way a user on
# Debian uses them, without touching the machine:
#  1. cpack -G DEB builds libunroll-dev (and libunroll-distributed-dev with DISTRIBUTED=1) from the build;
#  2. every Depends is satisfied by an installed package or by one of these packages, and every shared
#     library that the packaged libraries load comes from a package that they Depend on;
#  3. dpkg -x unpacks them into a scratch root; the installed headers (but the opt-in xtensor_interop.hpp)
#     include nothing but the C++ toolchain's headers, so the packages need no other -dev package;
#  4. tests/consumer is built against the scratch root with find_package(unroll) (CMAKE_PREFIX_PATH) and,
#     with pkg-config (PKG_CONFIG_SYSROOT_DIR), as `c++ main.cpp $(pkg-config --cflags --libs unroll)`;
#     the programs (and the distributed ones) run.
# Usage: package_deb.sh BUILD_DIR SOURCE_DIR CXX CMAKE CPACK DISTRIBUTED(0|1)
# Exits 77 (CTest: skipped) when dpkg-deb, dpkg-shlibdeps (dpkg-dev) or pkg-config is missing.
set -euo pipefail
build=$1 source=$2 cxx=$3 cmake=$4 cpack=$5 distributed=$6
work=$build/package_deb
root=$work/root

fail() {
  echo "package_deb: FAILED: $*" >&2
  exit 1
}
for tool in dpkg-deb dpkg-query dpkg-shlibdeps pkg-config; do
  if ! command -v "$tool" >/dev/null; then
    echo "package_deb: SKIPPED: $tool is not installed (apt-get install dpkg-dev pkg-config)"
    exit 77
  fi
done

rm -rf "$work"
mkdir -p "$work"

# 1. the packages
"$cpack" -G DEB --config "$build/CPackConfig.cmake" -B "$work/packages" >"$work/cpack.log" 2>&1 ||
  { cat "$work/cpack.log"; fail "cpack -G DEB"; }
expected=(libunroll-dev)
[ "$distributed" = 1 ] && expected+=(libunroll-distributed-dev)
debs=()
built=()  # "name version" of each package built
for name in "${expected[@]}"; do
  deb=$(find "$work/packages" -maxdepth 1 -name "${name}_*.deb")
  [ -n "$deb" ] || fail "cpack made no ${name}_*.deb (see $work/cpack.log)"
  [ "$(dpkg-deb -f "$deb" Package)" = "$name" ] || fail "$deb: Package is not $name"
  debs+=("$deb")
  built+=("$name $(dpkg-deb -f "$deb" Version)")
  echo "package_deb: $(basename "$deb"): Depends: $(dpkg-deb -f "$deb" Depends)"
done
echo "package_deb: cpack made ${expected[*]} (${SECONDS} s)"
[ "$(find "$work/packages" -maxdepth 1 -name '*.deb' | wc -l)" = "${#expected[@]}" ] ||
  fail "cpack made other packages than ${expected[*]}"

# 2. Depends. satisfied NAME [OP VERSION]: an installed package or one of ours has NAME at a matching version.
satisfied() {
  local name=${1%%:*} op=${2:-} version=${3:-} have
  for b in "${built[@]}"; do
    if [ "${b% *}" = "$name" ]; then
      [ -z "$op" ] || dpkg --compare-versions "${b#* }" "$op" "$version"
      return
    fi
  done
  dpkg-query -W -f='${Status}\n' "$name" 2>/dev/null | grep -q 'install ok installed' || return 1
  have=$(dpkg-query -W -f='${Version}' "$name")
  [ -z "$op" ] || dpkg --compare-versions "$have" "$op" "$version"
}
# library_package SONAME: sets owner to the installed package that has the library (ldconfig's path, or the
# same file under /lib <-> /usr/lib: Debian 12 merged /lib into /usr/lib, and dpkg knows each file by one of
# the two); remembered, as each dpkg -S reads the whole package database
multiarch=$("$cxx" -print-multiarch 2>/dev/null || true)
declare -A library_owner
library_package() {
  local path file candidate
  owner=${library_owner[$1]:-}
  [ -z "$owner" ] || return 0
  path=$(ldconfig -p | awk -v n="$1" -v m="/$multiarch/" '$1 == n && index($NF, m) {print $NF; exit}')
  [ -n "$path" ] || path=$(ldconfig -p | awk -v n="$1" '$1 == n {print $NF; exit}')
  [ -n "$path" ] || return 1
  for file in "$path" "$(realpath "$path")"; do
    for candidate in "$file" "${file#/usr}" "/usr$file"; do
      owner=$(dpkg -S "$candidate" 2>/dev/null | head -1 | cut -d: -f1)
      [ -z "$owner" ] || { library_owner[$1]=$owner; return 0; }
    done
  done
  return 1
}
# package_names DEPENDS: the package names in a Depends field, without versions and architectures
package_names() {
  sed -E 's/\([^)]*\)//g; s/:[a-z0-9]+//g; s/[,|]/ /g' <<<"$1" | tr -s ' '
}
for deb in "${debs[@]}"; do
  depends=$(dpkg-deb -f "$deb" Depends)
  IFS=',' read -ra clauses <<<"$depends"
  for clause in "${clauses[@]}"; do
    ok=0
    IFS='|' read -ra alternatives <<<"$clause"
    for alternative in "${alternatives[@]}"; do
      # "name (>= 1.2)" -> name >= 1.2
      read -r name op version <<<"$(sed -E 's/[()]/ /g' <<<"$alternative")"
      if satisfied "$name" "${op:-}" "${version:-}"; then ok=1; fi
    done
    [ $ok = 1 ] || fail "$(basename "$deb"): Depends '$clause' is satisfied by no installed package"
  done
  # each shared library the packaged libraries need: from a package named in Depends (or from this one)
  # the packages named in Depends, and those they depend on or provide (libopenblas0 is a metapackage of
  # libopenblas0-pthread | libopenblas0-openmp | ..., which have the library)
  names=$(package_names "$depends")
  for name in $names; do
    names+=" $(package_names "$(dpkg-query -W -f='${Depends}, ${Provides}' "$name" 2>/dev/null || true)")"
  done
  names=" $(tr -s ' \n' '  ' <<<"$names") "
  dpkg-deb -x "$deb" "$work/contents"
  while read -r lib; do
    for needed in $(objdump -p "$lib" | awk '$1 == "NEEDED" {print $2}'); do
      case $needed in
        libunroll.so.*) owner=libunroll-dev ;;
        *) library_package "$needed" || fail "$(basename "$lib") needs $needed, which no package has" ;;
      esac
      [ "$owner" = "$(dpkg-deb -f "$deb" Package)" ] || [[ $names == *" $owner "* ]] ||
        fail "$(basename "$lib") needs $needed (package $owner), which $(basename "$deb") does not Depend on"
    done
  done < <(find "$work/contents" -name '*.so.*' -type f)
  rm -rf "$work/contents"
  dpkg-deb -x "$deb" "$root"
done

# 3. the installed headers need only the toolchain: list the headers that every installed header (but
# xtensor_interop.hpp) pulls in, and the packages they come from
include=$root/usr/include
[ -f "$include/unroll/unroll.hpp" ] || fail "no $include/unroll/unroll.hpp in the packages"
toolchain='^(libc6-dev|linux-libc-dev|libstdc\+\+-[0-9]+-dev|libgcc-[0-9]+-dev|libc\+\+-[0-9]+-dev|libclang-common-[0-9]+-dev|libclang-rt-[0-9]+-dev)$'
(cd "$include" && find unroll -name '*.hpp' ! -name xtensor_interop.hpp | sed 's/.*/#include <&>/') >"$work/all_headers.cpp"
"$cxx" -std=c++20 -I"$include" -M "$work/all_headers.cpp" >"$work/all_headers.d" || fail "the installed headers do not compile"
outside=$(sed 's/\\$//' "$work/all_headers.d" | tr ' ' '\n' | grep '^/' | grep -v "^$work/" | sort -u)
# one dpkg -S for all of them (it reads the whole package database); it fails when a file is in no package
mapfile -t real < <(xargs -r realpath <<<"$outside" | sort -u)
owners=$(dpkg -S "${real[@]}" 2>"$work/dpkg-S.log") ||
  fail "the installed headers include files that belong to no package: $(cat "$work/dpkg-S.log")"
others=$(sed -E 's/: \/.*//' <<<"$owners" | tr ',' '\n' | sed -E 's/^ *//; s/:.*//' | sort -u | grep -Ev "$toolchain" || true)
[ -z "$others" ] || fail "the installed headers include headers of $others (e.g. $(grep -m1 -F "$(head -1 <<<"$others")" \
  <<<"$owners")): libunroll-dev must Depend on them"
echo "package_deb: Depends checked; the $(wc -l <"$work/all_headers.cpp") installed headers include only the toolchain's" \
  "($(wc -w <<<"$outside") headers) (${SECONDS} s)"

# loads_packaged PROGRAM: every libunroll* that PROGRAM loads is the scratch root's
loads_packaged() {
  local unroll_libs
  unroll_libs=$(ldd "$1" | grep libunroll) || return 1
  ! grep -v " => $root/" <<<"$unroll_libs"
}

# 4a. find_package(unroll) with CMAKE_PREFIX_PATH into the scratch root
"$cmake" -S "$source/tests/consumer" -B "$work/find_package" -DCMAKE_PREFIX_PATH="$root/usr" \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Release >"$work/find_package.log" 2>&1 ||
  { cat "$work/find_package.log"; fail "configuring tests/consumer against $root/usr"; }
grep -q "^unroll_DIR:PATH=$root/usr/" "$work/find_package/CMakeCache.txt" ||
  fail "find_package(unroll) did not find the package in $root/usr ($(grep '^unroll_DIR' "$work/find_package/CMakeCache.txt"))"
"$cmake" --build "$work/find_package" >>"$work/find_package.log" 2>&1 ||
  { cat "$work/find_package.log"; fail "building tests/consumer with find_package"; }
programs=(consumer)
[ "$distributed" = 1 ] && programs+=(consumer_distributed)
for program in "${programs[@]}"; do
  [ -x "$work/find_package/$program" ] || fail "find_package: $program was not built"
  loads_packaged "$work/find_package/$program" || fail "find_package: $program does not load the packaged libraries"
  "$work/find_package/$program" || fail "find_package: $program exited with $?"
done
echo "package_deb: find_package(unroll): ${programs[*]} built and ran (${SECONDS} s)"

# 4b. pkg-config: the .pc files as installed (prefix=/usr), read from the scratch root
pcdir=$(dirname "$(find "$root" -name unroll.pc)")
[ -d "$pcdir" ] || fail "no unroll.pc in the packages"
export PKG_CONFIG_PATH=$pcdir
[ "$(pkg-config --variable=prefix unroll)" = /usr ] || fail "unroll.pc: prefix is not /usr"
[ "$(pkg-config --modversion unroll)" = "$(dpkg-deb -f "${debs[0]}" Version | cut -d- -f1)" ] ||
  fail "unroll.pc: Version is not the package's"
export PKG_CONFIG_SYSROOT_DIR=$root
mkdir -p "$work/pkg-config"
modules=(unroll)
[ "$distributed" = 1 ] && modules+=(unroll-distributed)
sources=("$source/tests/consumer/main.cpp" "$source/tests/consumer/distributed.cpp")
for i in "${!modules[@]}"; do
  flags=$(pkg-config --cflags --libs "${modules[$i]}") || fail "pkg-config --cflags --libs ${modules[$i]}"
  grep -q -- "-I$root/usr/include" <<<"$flags" || fail "pkg-config ${modules[$i]}: no -I into the root: $flags"
  echo "package_deb: pkg-config --cflags --libs ${modules[$i]}: $flags"
  # shellcheck disable=SC2086  # the flags are words
  "$cxx" "${sources[$i]}" $flags -o "$work/pkg-config/${programs[$i]}" || fail "building ${programs[$i]} with pkg-config"
  export LD_LIBRARY_PATH=$pcdir/..
  loads_packaged "$work/pkg-config/${programs[$i]}" || fail "pkg-config: ${programs[$i]} does not load the packaged libraries"
  "$work/pkg-config/${programs[$i]}" || fail "pkg-config: ${programs[$i]} exited with $?"
done
echo "package_deb: pkg-config: ${programs[*]} built and ran (${SECONDS} s)"
