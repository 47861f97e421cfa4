"""What the comparison programs in bench/ share: where the programs are, PyTorch's environment at its best,
the check of what PyTorch runs on, the alternation of the two sides and the `key=value` lines they print.

PyTorch at its best on this machine (docs/performance.md): OpenBLAS's own CPU detection, so
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (which the machine's environment may set to a weaker kernel set) are
removed from PyTorch's environment only; and the faster of 1 thread and all threads the process may use,
measured in the same run: `alternate` runs unroll and every PyTorch setting in turn and keeps PyTorch's
fastest. unroll runs in the environment as given."""
import os
import statistics
import subprocess

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
BUILD = os.path.join(ROOT, "build")
OURS = os.path.join(BUILD, "bench", "rnn_bench")
THEIRS = os.path.join(BENCH, "torch_rnn_bench.py")
PYTHON = "/usr/bin/python3"  # Debian's python3-torch is installed for this interpreter
HIDDEN_FROM_TORCH = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

# name: (cell, layers, batch, seq, input, hidden, bidir)
CONFIGS = {
    "lstm 1x64 N16 T50 I32": ("lstm", 1, 16, 50, 32, 64, 0),
    "lstm 2x256 N32 T35 I128": ("lstm", 2, 32, 35, 128, 256, 0),
    "gru 2x256 N32 T35 I128": ("gru", 2, 32, 35, 128, 256, 0),
    "rnn 2x256 N32 T35 I128": ("rnn", 2, 32, 35, 128, 256, 0),
    "lstm 2x256 bidir N32 T35 I128": ("lstm", 2, 32, 35, 128, 256, 1),
    "lstm 1x1024 N64 T35 I512": ("lstm", 1, 64, 35, 512, 1024, 0),
}


def cores():
    return len(os.sched_getaffinity(0))


def torch_thread_settings():
    """PyTorch's candidate settings: 1 thread and all the cores this process may use."""
    return sorted({1, cores()})


def torch_env(threads):
    env = {k: v for k, v in os.environ.items() if k not in HIDDEN_FROM_TORCH}
    env["OMP_NUM_THREADS"] = str(threads)  # torch's intra-op threads and OpenBLAS's threads
    return env


def check_torch():
    """Runs bench/torch_check.py in every PyTorch setting; returns its line for the first (they differ only in
    threads) after checking that every setting loaded the same BLAS kernels and computed right."""
    lines = []
    for threads in torch_thread_settings():
        out = subprocess.run([PYTHON, os.path.join(BENCH, "torch_check.py")], env=torch_env(threads),
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"PyTorch's results are wrong or it does not run here:\n{out.stdout}{out.stderr}")
        lines.append(out.stdout.strip())
    return lines[0].replace(" threads=1", "")


def environment_line():
    """The machine as the runs saw it: CPU, load, and what unroll's environment sets for OpenBLAS."""
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    flags = open("/proc/cpuinfo").read()
    isa = "AVX-512" if " avx512f" in flags else "AVX2" if " avx2" in flags else "no AVX2"
    unroll_env = " ".join(f"{k}={os.environ[k]}" for k in HIDDEN_FROM_TORCH if k in os.environ) or "none"
    return (f"{model}, {cores()} cores, {isa}; load average before the runs "
            f"{os.getloadavg()[0]:.2f}; unroll's environment OpenBLAS settings: {unroll_env}")


def measure(cmd, env, key):
    """Runs cmd and returns the float after `key=` on the last output line that has it."""
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    for line in reversed(out.strip().splitlines()):
        for field in line.split():
            if field.startswith(key + "="):
                return float(field.split("=")[1])
    raise RuntimeError(f"no {key}= line in:\n" + out)


def alternate(ours, theirs, runs, higher_is_better=True, screen=1.5):
    """ours(): one measurement of unroll; theirs(threads): one of PyTorch with that many threads.
    Runs them in turn RUNS times, so load on the machine hits both alike. A PyTorch setting more than `screen`
    times worse than the best one in the first round is not run again (2 threads can be 6-80x slower here):
    its samples stay at the one of round 1.
    Returns (unroll median, PyTorch's best median, its thread count, {threads: samples}, unroll samples)."""
    ours_samples, theirs_samples = [], {t: [] for t in torch_thread_settings()}
    active = list(theirs_samples)
    for r in range(runs):
        ours_samples.append(ours())
        for threads in active:
            theirs_samples[threads].append(theirs(threads))
        if r == 0 and len(active) > 1:
            first = {t: theirs_samples[t][0] for t in active}
            best = (max if higher_is_better else min)(first.values())
            active = [t for t in active if (best / first[t] if higher_is_better else first[t] / best) <= screen]
    medians = {t: statistics.median(theirs_samples[t]) for t in active}
    best_threads = (max if higher_is_better else min)(medians, key=medians.get)
    return statistics.median(ours_samples), medians[best_threads], best_threads, theirs_samples, ours_samples


def threads_label(threads):
    return "1 thread" if threads == 1 else f"{threads} threads"


def alternate_pair(first, second, runs):
    """first(), second(): one measurement each (no thread settings to choose between). Runs them in turn RUNS
    times, so load on the machine hits both alike. Returns (first's median, second's median)."""
    first_samples, second_samples = [], []
    for _ in range(runs):
        first_samples.append(first())
        second_samples.append(second())
    return statistics.median(first_samples), statistics.median(second_samples)
