#!/usr/bin/env python3
"""What the PyTorch side of a comparison runs on, and whether its results are right there.

Run by bench/benchlib.py in the same environment as the PyTorch benchmarks. Prints one line:
  torch=<version> threads=<n> blas=<library> blas_core=<OpenBLAS kernel set> max_rel_err=<e>
and exits 1 if any result is off. The BLAS is found in this process's own memory map (Debian's torch calls
whatever libblas.so.3 points to); the kernel set is OpenBLAS's own `openblas_get_corename()`, which reflects
OPENBLAS_CORETYPE when the environment sets it and OpenBLAS's CPU detection when not.
The check: the matrix products of the benchmark shapes (all three transpose cases RNN training uses) and an
LSTM's forward and backward, in float32, against the same computation in float64; the largest error relative
to the largest value of each result must stay below 1e-4 (float32 rounding gives ~1e-6 here)."""
import ctypes
import sys

import torch

torch.manual_seed(0)


def loaded_blas():
    with open("/proc/self/maps") as maps:
        libs = sorted({line.split()[-1] for line in maps if "blas" in line.lower() and ".so" in line})
    for lib in libs:
        try:
            corename = ctypes.CDLL(lib).openblas_get_corename
        except (OSError, AttributeError):
            continue
        corename.restype = ctypes.c_char_p
        return lib, corename().decode()
    return (libs[0] if libs else "none"), "not OpenBLAS"


def rel_err(x32, x64):
    return ((x32.double() - x64).abs().max() / x64.abs().max().clamp_min(1e-30)).item()


errors = []
# (m, n, k) products as in bench/gemm_bench: A B^T forward, A B backward-data, A^T B weight gradients.
for m, n, k in ((16, 256, 64), (32, 1024, 256), (1120, 1024, 256), (64, 4096, 1024), (400, 10000, 200)):
    a, b = torch.randn(m, k, dtype=torch.float64), torch.randn(n, k, dtype=torch.float64)
    errors.append(rel_err(a.float() @ b.float().t(), a @ b.t()))
    errors.append(rel_err(a.float().t() @ a.float(), a.t() @ a))
    errors.append(rel_err((a.float() @ b.float().t()) @ b.float(), (a @ b.t()) @ b))

lstm64 = torch.nn.LSTM(128, 256, num_layers=2).double()
lstm32 = torch.nn.LSTM(128, 256, num_layers=2)
lstm32.load_state_dict({k: v.float() for k, v in lstm64.state_dict().items()})
x = torch.randn(35, 32, 128, dtype=torch.float64)
out64, _ = lstm64(x)
out32, _ = lstm32(x.float())
out64.square().sum().backward()
out32.square().sum().backward()
errors.append(rel_err(out32, out64))
for p32, p64 in zip(lstm32.parameters(), lstm64.parameters()):
    errors.append(rel_err(p32.grad, p64.grad))

lib, core = loaded_blas()
worst = max(errors)
print(f"torch={torch.__version__} threads={torch.get_num_threads()} blas={lib} blas_core={core} "
      f"max_rel_err={worst:.1e}")
sys.exit(0 if worst < 1e-4 else 1)
