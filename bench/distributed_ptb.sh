#!/usr/bin/env bash
# Data-parallel throughput on this machine: the PTB zaremba-small model (2 x 200 LSTM, T 20, SGD, clip 5) on
# 1 process and on 2 MPI ranks, unroll (examples/word_lm --distributed, build with -DUNROLL_DISTRIBUTED=ON)
# beside PyTorch (bench/torch_ptb_small.py; bench/torch_ddp_ptb.py: DistributedDataParallel over
# gloo). Each configuration times its first STEPS training windows; the configurations alternate, ROUNDS
# rounds, and the medians are printed in words per second of all ranks together.
#   bash bench/distributed_ptb.sh [DATA_DIR=../shared/data/ptb] [STEPS=200] [ROUNDS=5]
# Configurations: 1 process with batch 20; 2 ranks x batch 10 (the same updates as batch 20: strong scaling);
# 2 ranks x batch 20 (twice the words per update: weak scaling). One thread per process everywhere
# (OMP_NUM_THREADS=1, OPENBLAS_NUM_THREADS=1; unroll's GEMM is single-threaded; for one PyTorch process 1 thread
# is the faster of 1 and 2 here, bench/compare_ptb). PyTorch runs with OpenBLAS's own CPU detection
# (OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed from its environment only: its best setting, bench/benchlib.py).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
data=${1:-../shared/data/ptb} steps=${2:-200} rounds=${3:-5}
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
mpirun=(mpirun --allow-run-as-root --oversubscribe --bind-to none -x UNROLL_NUM_THREADS=1)  # one thread per rank
word_lm=(./build/examples/word_lm --data "$data" --preset zaremba-small --time-steps "$steps")

# word_lm prints "timing: 200 steps, 3242 words/s, ..." and, with --distributed, the share of the time spent
# in the allreduce ("timing: 2 ranks, 18.1 MB of gradients summed per step, 3.2% of the time in the allreduce").
ours() {
  local out
  out=$("$@" 2>/dev/null)
  words=$(echo "$out" | sed -nE 's/^timing: [0-9]+ steps, ([0-9.]+) words\/s.*/\1/p')
  share=$(echo "$out" | sed -nE 's/.* ([0-9.]+)% of the time in the allreduce/\1/p')
  echo "$words ${share:-0}"
}
theirs() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$@" 2>/dev/null | tail -1 | sed -E 's/tokens_per_s=([0-9.]+).*/\1/'; }

echo "load average before: $(cut -d' ' -f1 /proc/loadavg); PyTorch: $(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
  /usr/bin/python3 bench/torch_check.py)"
declare -a u1 u2s u2w p1 p2s p2w share2s share2w
for ((r = 1; r <= rounds; r++)); do
  read -r w _ < <(ours "${word_lm[@]}" --batch 20); u1+=("$w")
  read -r w s < <(ours "${mpirun[@]}" -np 2 "${word_lm[@]}" --distributed --batch 10); u2s+=("$w"); share2s+=("$s")
  read -r w s < <(ours "${mpirun[@]}" -np 2 "${word_lm[@]}" --distributed --batch 20); u2w+=("$w"); share2w+=("$s")
  p1+=("$(theirs /usr/bin/python3 bench/torch_ptb_small.py "$data" "$steps")")
  p2s+=("$(theirs /usr/bin/python3 bench/torch_ddp_ptb.py "$data" 2 10 "$steps")")
  p2w+=("$(theirs /usr/bin/python3 bench/torch_ddp_ptb.py "$data" 2 20 "$steps")")
  echo "round $r: unroll ${u1[-1]} / ${u2s[-1]} / ${u2w[-1]}   PyTorch ${p1[-1]} / ${p2s[-1]} / ${p2w[-1]} words/s"
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
U1=$(median "${u1[@]}") U2S=$(median "${u2s[@]}") U2W=$(median "${u2w[@]}")
P1=$(median "${p1[@]}") P2S=$(median "${p2s[@]}") P2W=$(median "${p2w[@]}")
S2S=$(median "${share2s[@]}") S2W=$(median "${share2w[@]}")
echo
echo "medians of $rounds rounds, words/s (all ranks together), $steps steps each"
awk -v u1="$U1" -v u2s="$U2S" -v u2w="$U2W" -v p1="$P1" -v p2s="$P2S" -v p2w="$P2W" -v s2s="$S2S" -v s2w="$S2W" 'BEGIN {
  printf "| configuration | unroll | PyTorch | unroll / PyTorch | unroll allreduce share |\n|---|---|---|---|---|\n"
  printf "| 1 process, batch 20 | %.0f | %.0f | %.2fx | - |\n", u1, p1, u1 / p1
  printf "| 2 ranks x batch 10 (same updates) | %.0f (%.2fx) | %.0f (%.2fx) | %.2fx | %.1f%% |\n", u2s, u2s / u1, p2s, p2s / p1, u2s / p2s, s2s
  printf "| 2 ranks x batch 20 (2x words/update) | %.0f (%.2fx) | %.0f (%.2fx) | %.2fx | %.1f%% |\n", u2w, u2w / u1, p2w, p2w / p1, u2w / p2w, s2w
}'
echo "load average after: $(cut -d' ' -f1 /proc/loadavg)"
