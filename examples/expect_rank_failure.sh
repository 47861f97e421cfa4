#!/usr/bin/env bash
# A rank of a data-parallel char_lm run fails; the job must end on its own, with a clear error, and the last
# checkpoint must load (docs/distributed.md, "When a rank fails"). Used by CTest with -DUNROLL_DISTRIBUTED=ON:
#
#   expect_rank_failure.sh stop|kill WORKDIR CHAR_LM MPIRUN [MPIRUN ARGS...]
#
#   stop: rank 1 is frozen (SIGSTOP), as a hung process or an unreachable host would be: rank 0 must give up
#         after --timeout seconds with distributed::TimeoutError's message, and the job must end.
#   kill: rank 1 is killed (SIGKILL), as by the OOM killer: mpirun must notice and end the job.
# Either way no rank may be left running, and the checkpoint saved before the failure must resume in a single
# process with the same total batch.
set -uo pipefail
mode=$1 work=$2 program=$3
shift 3
timeout=5

# The processes of this test's ranks: the program, with this test's unique work directory on its command line
# (read from /proc, so that no procps is needed).
ranks() {
  local dir pid
  for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    [ "$(readlink "$dir/exe" 2>/dev/null)" = "$(readlink -f "$program")" ] || continue
    tr '\0' ' ' <"$dir/cmdline" 2>/dev/null | grep -q -- "--out $work/out " || continue
    echo "$pid"
  done
}
rank_pid() {  # the process of rank $1
  local pid
  for pid in $(ranks); do
    tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$1" && echo "$pid"
  done
}

fail() {
  echo "FAILED: $*"
  echo "---- log ----"
  tail -c 3000 "$work/log" | tr '\r' '\n' | tail -25
  for pid in $(ranks); do kill -KILL "$pid" 2>/dev/null; done
  exit 1
}

rm -rf "$work" && mkdir -p "$work"
# Every rank has 16 streams: the checkpoint holds the state of 32, as one process with --batch 32 would.
"$@" "$program" --quick --distributed --steps 1000000 --eval-every 20 --save "$work/ckpt" --timeout "$timeout" \
  --out "$work/out" >"$work/log" 2>&1 &
job=$!

for _ in $(seq 300); do [ -f "$work/ckpt/trainer.npz" ] && break; sleep 0.2; done
[ -f "$work/ckpt/trainer.npz" ] || fail "no checkpoint after 60 s"
sleep 1  # a few more steps and checkpoints
victim=$(rank_pid 1)
[ -n "$victim" ] || fail "rank 1 is not running"
case $mode in
  stop) kill -STOP "$victim" ;;
  kill) kill -KILL "$victim" ;;
  *) fail "unknown mode $mode" ;;
esac
start=$(date +%s)

# The job must end by itself: well within timeout + 30 s.
for _ in $(seq 350); do kill -0 "$job" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$job" 2>/dev/null; then
  kill -CONT "$victim" 2>/dev/null
  kill -KILL "$job" 2>/dev/null
  fail "the job was still running $(($(date +%s) - start)) s after rank 1 got SIG${mode^^}"
fi
wait "$job"
status=$?
echo "job ended $(($(date +%s) - start)) s after rank 1 got SIG${mode^^}, exit code $status"
[ "$status" -ne 0 ] || fail "the job exited with code 0"
if [ "$mode" = stop ]; then
  grep -q "did not complete within $timeout s: another rank has died or stopped responding (rank 1 on host " \
    "$work/log" || fail "rank 0 did not report the timeout naming rank 1 and its host"
  grep -m1 -o "char_lm: distributed: .*did not complete.*" "$work/log"
fi
for _ in $(seq 100); do [ -z "$(rank_pid 0)$(rank_pid 1)" ] && break; sleep 0.2; done
[ -z "$(rank_pid 0)$(rank_pid 1)" ] || fail "a rank is still running 20 s after the job ended"

# The checkpoint that was complete when the rank failed resumes in one process with batch 2 x 16 and trains on.
resume() { "$program" --quick --batch 32 --resume "$work/ckpt" --out "$work/out-resumed" --sample-chars 0 "$@"; }
resumed=$(resume --steps 0 2>&1) || fail "resuming from $work/ckpt failed: $resumed"
step=$(echo "$resumed" | sed -n 's/^resumed from .* at step \([0-9]*\)$/\1/p')
[ -n "$step" ] && [ "$step" -ge 20 ] || fail "no checkpointed step in: $resumed"
trained=$(resume --steps $((step + 20)) --eval-every 20 2>&1) || fail "training on from step $step failed: $trained"
echo "$trained" | grep -q "^step *$((step + 20)) .*valid" || fail "no validation at step $((step + 20)): $trained"
echo "resumed from the checkpoint of step $step in one process and trained 20 more steps"
rm -rf "$work"
