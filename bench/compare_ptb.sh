#!/usr/bin/env bash
# PTB zaremba-small training speed, unroll (examples/word_lm) against PyTorch (../shared/tools/torch_ptb_small.py):
# both time the first STEPS training windows of the same model and recipe (2 x 200 LSTM, T 20, N 20, SGD, clip 5),
# alternately, ROUNDS rounds; prints both medians in words/s, the estimated epoch time and the ratio.
#   bash bench/compare_ptb.sh [DATA_DIR=../shared/data/ptb] [STEPS=200] [ROUNDS=5]
# Both sides single-threaded (OMP_NUM_THREADS=1, OPENBLAS_NUM_THREADS=1), PyTorch's fastest setting here.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
data=${1:-../shared/data/ptb} steps=${2:-200} rounds=${3:-5}
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
ours=() theirs=()
for ((r = 1; r <= rounds; r++)); do
  # word_lm's last line: "timing: 200 steps, 3242 words/s, estimated epoch 287 s (929589 words)"
  ours+=("$(./build/examples/word_lm --data "$data" --preset zaremba-small --time-steps "$steps" 2>/dev/null |
            tail -1 | sed -E 's/.* ([0-9.]+) words\/s.*/\1/')")
  theirs+=("$(/usr/bin/python3 ../shared/tools/torch_ptb_small.py "$data" "$steps" | tail -1 |
              sed -E 's/tokens_per_s=([0-9.]+).*/\1/')")
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
u=$(median "${ours[@]}") t=$(median "${theirs[@]}")
echo "unroll  words/s: ${ours[*]}"
echo "PyTorch words/s: ${theirs[*]}"
awk -v u="$u" -v t="$t" 'BEGIN { printf "median: unroll %.0f words/s (%.0f s/epoch), PyTorch %.0f words/s (%.0f s/epoch), ratio %.2fx\n", u, 929589 / u, t, 929589 / t, u / t }'
