#!/usr/bin/env bash
# Runs bench/op_overhead and its PyTorch twin alternately (5 rounds each), prints both medians and the
# ratio PyTorch / unroll (higher = unroll cheaper per op). Needs build/ and /usr/bin/python3 with torch.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ours=() theirs=()
for round in 1 2 3 4 5; do
  ours+=("$(./build/bench/op_overhead 200 | tail -1 | cut -d= -f2)")
  theirs+=("$(OMP_NUM_THREADS=1 /usr/bin/python3 bench/torch_op_overhead.py 200 | tail -1 | cut -d= -f2)")
done
median() { printf '%s\n' "$@" | sort -g | sed -n 3p; }
u=$(median "${ours[@]}"); t=$(median "${theirs[@]}")
echo "unroll runs (us/op): ${ours[*]}"
echo "torch  runs (us/op): ${theirs[*]}"
echo "unroll median ${u} us/op, PyTorch (Python, 1 thread) median ${t} us/op"
awk -v u="$u" -v t="$t" 'BEGIN { printf "ratio_torch_over_unroll=%.2f\n", t / u }'
