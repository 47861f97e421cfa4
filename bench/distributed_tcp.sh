#!/usr/bin/env bash
# What TCP between hosts costs data-parallel training, against shared memory on one host, over 3 transports:
#   shm:      2 ranks on one host, MPI over shared memory (--mca btl vader,self);
#   loopback: 2 ranks on one host, MPI over TCP on the loopback interface (--mca btl tcp,self);
#   veth:     1 rank on each of two hosts, MPI over TCP on the link between them,
# where the hosts are two network namespaces joined by a veth pair (the setup of examples/expect_two_hosts.sh,
# whose agent mode starts host B's daemon). All three run inside the namespaces.
#  1. One gradient allreduce alone (bench/allreduce_cost.cpp, built here with mpicxx): the median time of 50, for
#     the gradients of word_lm zaremba-small (4.65 M values, 18.6 MB) and of char_lm --quick (28,850 values).
#  2. The PTB zaremba-small model in examples/word_lm --distributed, 2 ranks x batch 10: the configurations
#     alternate, ROUNDS rounds, each timing the first STEPS training windows; printed: words per second of both
#     ranks together and the share of the time in the allreduce, every round and the medians.
# Needs root and a build with -DUNROLL_DISTRIBUTED=ON (BUILD=build by default).
#   bash bench/distributed_tcp.sh [DATA_DIR=../shared/data/ptb] [STEPS=100] [ROUNDS=3]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
data=${1:-../shared/data/ptb} steps=${2:-100} rounds=${3:-3} build=${BUILD:-build}
word_lm=("$(readlink -f "$build/examples/word_lm")" --data "$(readlink -f "$data")" --preset zaremba-small
  --time-steps "$steps" --distributed --batch 10)

ns_a=unroll-bench-$$-a ns_b=unroll-bench-$$-b dev_a=ubn$$a dev_b=ubn$$b
addr_a=10.213.1.1 addr_b=10.213.1.2 subnet=10.213.1.0/30
cleanup() {
  local ns pids
  for ns in "$ns_a" "$ns_b"; do
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
  done
  sleep 0.5
  ip netns del "$ns_a" 2>/dev/null || true
  ip netns del "$ns_b" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$ns_a" && ip netns add "$ns_b"
ip link add "$dev_a" netns "$ns_a" type veth peer name "$dev_b" netns "$ns_b"
ip -n "$ns_a" addr add "$addr_a/30" dev "$dev_a" && ip -n "$ns_b" addr add "$addr_b/30" dev "$dev_b"
for ns in "$ns_a" "$ns_b"; do ip -n "$ns" link set lo up; done
ip -n "$ns_a" link set "$dev_a" up && ip -n "$ns_b" link set "$dev_b" up
export UNROLL_TWO_HOSTS="$addr_a=$ns_a $addr_b=$ns_b"

common=(--allow-run-as-root --bind-to none -x UNROLL_NUM_THREADS=1 -x OMP_NUM_THREADS=1 -x OPENBLAS_NUM_THREADS=1)
shm=("${common[@]}" -np 2 --host "$addr_a:2" --mca btl vader,self)
loopback=("${common[@]}" -np 2 --host "$addr_a:2" --mca btl tcp,self --mca btl_tcp_if_include lo)
veth=("${common[@]}" -np 2 --host "$addr_a:1,$addr_b:1" --mca plm_rsh_agent "bash $PWD/examples/expect_two_hosts.sh agent"
  --mca btl tcp,self --mca btl_tcp_if_include "$subnet" --mca oob_tcp_if_include "$subnet")

# word_lm prints "timing: 100 steps, 6055 words/s, ..." and "timing: 2 ranks, 18.6 MB of gradients summed per step,
# 6.3% of the time in the allreduce".
run() {
  local out words share
  out=$(ip netns exec "$ns_a" mpirun "$@" "${word_lm[@]}" 2>&1) || {
    echo "failed: $out" >&2
    exit 1
  }
  words=$(echo "$out" | sed -nE 's/^timing: [0-9]+ steps, ([0-9.]+) words\/s.*/\1/p')
  share=$(echo "$out" | sed -nE 's/.* ([0-9.]+)% of the time in the allreduce/\1/p')
  echo "$words $share"
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
tmp=$(mktemp -d)
trap 'cleanup; rm -rf "$tmp"' EXIT
mpicxx -O2 -std=c++17 bench/allreduce_cost.cpp -o "$tmp/allreduce_cost"
for values in 4650000 28850; do
  for transport in shm loopback veth; do
    declare -n args=$transport
    echo "$transport: $(ip netns exec "$ns_a" mpirun "${args[@]}" "$tmp/allreduce_cost" "$values" 50)"
  done
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
declare -a w_shm w_lo w_veth s_shm s_lo s_veth
for ((r = 1; r <= rounds; r++)); do
  read -r w s < <(run "${shm[@]}"); w_shm+=("$w"); s_shm+=("$s")
  read -r w s < <(run "${loopback[@]}"); w_lo+=("$w"); s_lo+=("$s")
  read -r w s < <(run "${veth[@]}"); w_veth+=("$w"); s_veth+=("$s")
  echo "round $r: shm ${w_shm[-1]} (${s_shm[-1]}%), loopback TCP ${w_lo[-1]} (${s_lo[-1]}%)," \
    "veth TCP ${w_veth[-1]} (${s_veth[-1]}%) words/s (allreduce share); load $(cut -d' ' -f1 /proc/loadavg)"
done
((rounds > 0)) || exit 0
W_SHM=$(median "${w_shm[@]}") W_LO=$(median "${w_lo[@]}") W_VETH=$(median "${w_veth[@]}")
echo
echo "medians of $rounds rounds, word_lm zaremba-small, 2 ranks x batch 10, $steps steps each, words/s of both ranks"
awk -v shm="$W_SHM" -v lo="$W_LO" -v veth="$W_VETH" -v sshm="$(median "${s_shm[@]}")" -v slo="$(median "${s_lo[@]}")" \
  -v sveth="$(median "${s_veth[@]}")" 'BEGIN {
  printf "| transport | words/s | against shared memory | time in the allreduce |\n|---|---|---|---|\n"
  printf "| one host, shared memory (vader) | %.0f | 1.00x | %.1f%% |\n", shm, sshm
  printf "| one host, TCP over loopback | %.0f | %.2fx | %.1f%% |\n", lo, lo / shm, slo
  printf "| two hosts, TCP over the veth link | %.0f | %.2fx | %.1f%% |\n", veth, veth / shm, sveth
}'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
