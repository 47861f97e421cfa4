#!/usr/bin/env bash
# Times compiling a small LSTM model script against <unroll/unroll.hpp> at -O2 (median of 5).
# Needs a configured build/ (for the include link). Prints `compile_s=<X>` last.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
src=bench/compile_probe/lstm_script.cpp
times=()
for i in 1 2 3 4 5; do
  start=$(date +%s%N)
  g++ -std=c++20 -O2 -Ibuild/include -c "$src" -o /tmp/unroll_compile_probe.o
  end=$(date +%s%N)
  times+=("$(( (end - start) / 1000000 ))")
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
echo "runs (ms): $(echo $sorted | tr '\n' ' ')"
ms=$(echo "$sorted" | sed -n 3p); printf 'compile_s=%d.%03d\n' $((ms / 1000)) $((ms % 1000))
