"""What bench/compare and bench/scaling share: where the two benchmark programs are, and how to read the
`key=value` line each prints last (tokens_per_s=..., ms_per_step=...)."""
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OURS = os.path.join(ROOT, "build", "bench", "rnn_bench")
THEIRS = os.path.join(ROOT, "..", "shared", "tools", "torch_rnn_bench.py")


def measure(cmd, env, key):
    """Runs cmd and returns the float after `key=` on the last output line that has it."""
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    for line in reversed(out.strip().splitlines()):
        for field in line.split():
            if field.startswith(key + "="):
                return float(field.split("=")[1])
    raise RuntimeError(f"no {key}= line in:\n" + out)
