#!/usr/bin/env python3
"""PyTorch side of bench/op_overhead: the same chain of 999 [4, 4] ops (add, mul, tanh) + backward.

Prints `us_per_op=<X>` (median over repeats) as its last line. bench/compare_op_overhead runs it
at its best setting, and sets the threads with OMP_NUM_THREADS.
"""
import sys
import time

import torch

# Threads: torch reads OMP_NUM_THREADS (bench/benchlib.py sets it).
repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 200
ops = 999
g = torch.Generator().manual_seed(0)
w = (torch.rand(4, 4, generator=g) - 0.5).requires_grad_()
bias = (torch.rand(4, 4, generator=g) - 0.5) * 0.2
samples = []
for r in range(repeats + 10):
    start = time.perf_counter()
    h = w
    for _ in range(ops // 3):
        h = torch.add(h, bias)
        h = torch.mul(h, w)
        h = torch.tanh(h)
    h.sum().backward()
    w.grad = None
    if r >= 10:
        samples.append((time.perf_counter() - start) * 1e6 / ops)
samples.sort()
print(f"torch {torch.__version__}, ops per chain: {ops}, repeats: {repeats}")
print(f"us_per_op={samples[len(samples) // 2]:.3f}")
