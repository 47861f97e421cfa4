#!/usr/bin/env python3
"""PyTorch's side of bench/compare and bench/scaling: the same model and step as build/bench/rnn_bench.

  /usr/bin/python3 bench/torch_rnn_bench.py CELL LAYERS BATCH SEQ INPUT HIDDEN BIDIR [--threads N] [--no-grad]
                                           [--seconds S]

Model: CELL(INPUT -> HIDDEN, LAYERS, bidirectional) on x: [SEQ, BATCH, INPUT] (time-major), a Linear head to
10 classes at every step, mean cross-entropy, clip_grad_norm 5, SGD lr 0.01. One step = zero_grad, forward,
backward, clip, update (--no-grad: forward and head only, under torch.no_grad()). 3 warm-up steps, then steps
for >= S seconds (default 3) and >= 5 steps. --threads: torch's intra-op threads (default 1; run it with
OMP_NUM_THREADS equal to it, as bench/benchlib.py does).
Prints: tokens_per_s=<N> ms_per_step=<M>, where tokens = SEQ * BATCH per step."""
import argparse
import time

import torch

p = argparse.ArgumentParser()
p.add_argument("cell", choices=("rnn", "lstm", "gru"))
for name in ("layers", "batch", "seq", "input", "hidden"):
    p.add_argument(name, type=int)
p.add_argument("bidir", type=int, choices=(0, 1))
p.add_argument("--threads", type=int, default=1)
p.add_argument("--no-grad", action="store_true")
p.add_argument("--seconds", type=float, default=3.0)
a = p.parse_args()
T, N, D, H, L = a.seq, a.batch, a.input, a.hidden, a.layers

torch.set_num_threads(a.threads)
torch.manual_seed(0)
cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[a.cell]
rnn = cls(D, H, num_layers=L, bidirectional=bool(a.bidir))
head = torch.nn.Linear(H * (2 if a.bidir else 1), 10)
params = list(rnn.parameters()) + list(head.parameters())
opt = torch.optim.SGD(params, lr=0.01)
x = torch.randn(T, N, D)
y = torch.randint(0, 10, (T * N,))


def train_step():
    opt.zero_grad()
    out, _ = rnn(x)
    loss = torch.nn.functional.cross_entropy(head(out).reshape(T * N, 10), y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 5.0)
    opt.step()


def inference_step():
    with torch.no_grad():
        out, _ = rnn(x)
        head(out)


step = inference_step if a.no_grad else train_step
for _ in range(3):
    step()
reps, t0 = 0, time.perf_counter()
while time.perf_counter() - t0 < a.seconds or reps < 5:
    step()
    reps += 1
dt = (time.perf_counter() - t0) / reps
print(f"tokens_per_s={N * T / dt:.0f} ms_per_step={dt * 1e3:.2f}")
