#!/usr/bin/env python3
"""Reference: character-level LSTM language model on Tiny Shakespeare in PyTorch (CPU), the model of
`examples/char_lm --preset shakespeare` (bench's own copy of the reference program, so a clone needs nothing else).
Model: embedding 64 -> LSTM 2 x 256 -> linear to vocab; batch 32, truncated BPTT 100 steps (state carried and
detached), Adam lr 2e-3, clip_grad_norm 5; last 10% of the text is validation. Prints validation loss
(nats/char) every EVAL_EVERY steps with elapsed seconds, and when it first reaches TARGET.
Usage: OMP_NUM_THREADS=K torch_char_lm.py FILE [MAX_SECONDS] [TARGET]   (K threads: torch reads OMP_NUM_THREADS)"""
import sys, time, math, torch
path = sys.argv[1]; max_s = float(sys.argv[2]) if len(sys.argv) > 2 else 3600; target = float(sys.argv[3]) if len(sys.argv) > 3 else 1.55
torch.manual_seed(0)
text = open(path).read(); chars = sorted(set(text)); ix = {c: i for i, c in enumerate(chars)}
data = torch.tensor([ix[c] for c in text]); n = int(len(data) * 0.9); train, val = data[:n], data[n:]
V, E, H, L, B, T = len(chars), 64, 256, 2, 32, 100
class M(torch.nn.Module):
    def __init__(s): super().__init__(); s.e = torch.nn.Embedding(V, E); s.r = torch.nn.LSTM(E, H, L); s.o = torch.nn.Linear(H, V)
    def forward(s, x, h): y, h = s.r(s.e(x), h); return s.o(y), h
m = M(); opt = torch.optim.Adam(m.parameters(), lr=2e-3)
def stream(d, bs):
    k = len(d) // bs; return d[: k * bs].view(bs, k).t().contiguous()
tr, va = stream(train, B), stream(val, B)
def evaluate():
    h = None; tot = 0.0; cnt = 0
    with torch.no_grad():
        for i in range(0, va.size(0) - 1, T):
            x, y = va[i:i + T], va[i + 1:i + 1 + T]; x = x[: len(y)]
            lg, h = m(x, h); tot += torch.nn.functional.cross_entropy(lg.reshape(-1, V), y.reshape(-1), reduction="sum").item(); cnt += y.numel()
    return tot / cnt
t0 = time.perf_counter(); step = 0; h = None; i = 0; reached = None; EVAL_EVERY = 200
while time.perf_counter() - t0 < max_s:
    if i + T + 1 > tr.size(0): i = 0; h = None
    x, y = tr[i:i + T], tr[i + 1:i + 1 + T]; i += T
    if h is not None: h = tuple(t.detach() for t in h)
    lg, h = m(x, h); loss = torch.nn.functional.cross_entropy(lg.reshape(-1, V), y.reshape(-1))
    opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(m.parameters(), 5.0); opt.step(); step += 1
    if step % EVAL_EVERY == 0:
        m.eval(); vl = evaluate(); m.train(); el = time.perf_counter() - t0
        print(f"step {step} chars {step*B*T} train {loss.item():.3f} val {vl:.3f} elapsed_s {el:.0f}", flush=True)
        if reached is None and vl <= target: reached = el; print(f"reached_target={target} at_s={el:.0f} step={step}", flush=True); break
print(f"done steps={step} chars_per_s={step*B*T/(time.perf_counter()-t0):.0f}")
