#!/usr/bin/env bash
# The whole test suite: install what is missing, build everything, run CTest. Then the same suite again,
# built with AddressSanitizer + UndefinedBehaviorSanitizer (LeakSanitizer included) in build-asan/
# (docs/reliability.md). UNROLL_SANITIZE=0 bash scripts/test.sh skips that second half.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j"$(nproc)"

if [ "${UNROLL_SANITIZE:-1}" != 0 ]; then
  echo "unroll test: the same suite under AddressSanitizer + UBSan (build-asan/)"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DUNROLL_SANITIZE=ON -DUNROLL_BUILD_BENCH=OFF \
    -DUNROLL_DISTRIBUTED=OFF >/dev/null
  cmake --build build-asan -j"$(nproc)"
  # allocator_may_return_null: an allocation the machine cannot satisfy throws std::bad_alloc, as without
  # ASan. scripts/lsan.supp lists the leaks of outside libraries that LeakSanitizer should not report.
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1:check_initialization_order=1 \
    LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp:print_suppressions=0" \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j"$(nproc)"
fi
