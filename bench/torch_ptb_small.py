#!/usr/bin/env python3
"""Reference: Zaremba et al. 2014 'small' non-regularized LSTM LM on PTB, in PyTorch (CPU): the
model of `examples/word_lm --preset zaremba-small` (bench's own copy of the reference program).
2 layers x 200, unroll 20, batch 20, SGD lr 1.0 (x0.5 per epoch after epoch 4), clip 5,
init U(-0.1, 0.1), 13 epochs, loss = sum over the 20 steps of the batch-mean cross-entropy.
Paper: valid 120.7, test 114.5.
Usage: OMP_NUM_THREADS=K torch_ptb_small.py DATA_DIR [MAX_STEPS]   (MAX_STEPS>0: time that many train steps only;
K threads: torch reads OMP_NUM_THREADS)"""
import gzip, math, os, sys, time, torch
d = sys.argv[1]; max_steps = int(sys.argv[2]) if len(sys.argv) > 2 else 0
def read(name):
    p = os.path.join(d, name)
    f = gzip.open(p + ".gz", "rt") if os.path.exists(p + ".gz") else open(p)
    return f.read().replace("\n", "<eos>").split()
train, valid, test = (read(f"ptb.{s}.txt") for s in ("train", "valid", "test"))
vocab = {w: i for i, w in enumerate(sorted(set(train)))}
def batchify(words, bs):
    ids = torch.tensor([vocab[w] for w in words]); n = len(ids) // bs
    return ids[: n * bs].view(bs, n).t().contiguous()  # [n, bs]
torch.manual_seed(0)
V, H, L, T, B = len(vocab), 200, 2, 20, 20
class LM(torch.nn.Module):
    def __init__(s):
        super().__init__()
        s.emb = torch.nn.Embedding(V, H); s.rnn = torch.nn.LSTM(H, H, L); s.out = torch.nn.Linear(H, V)
        for p in s.parameters(): torch.nn.init.uniform_(p, -0.1, 0.1)
    def forward(s, x, h): y, h = s.rnn(s.emb(x), h); return s.out(y), h
m = LM(); opt = torch.optim.SGD(m.parameters(), lr=1.0)
def run(data, train_mode, lr=1.0):
    h = None; tot = 0.0; n = 0; steps = 0
    for i in range(0, data.size(0) - 1, T):
        x, y = data[i:i + T], data[i + 1:i + 1 + T]; x = x[: len(y)]
        if h is not None: h = tuple(t.detach() for t in h)
        with torch.set_grad_enabled(train_mode):
            logits, h = m(x, h)
            loss = torch.nn.functional.cross_entropy(logits.view(-1, V), y.reshape(-1))
        if train_mode:
            # Zaremba's recipe (and TF's PTB tutorial): the loss is summed over the unrolled steps and
            # averaged over the batch, i.e. T x the per-token mean; clipping applies to that gradient.
            opt.zero_grad(); (loss * x.size(0)).backward()
            torch.nn.utils.clip_grad_norm_(m.parameters(), 5.0)
            for g in opt.param_groups: g["lr"] = lr
            opt.step(); steps += 1
            if max_steps and steps >= max_steps: return math.exp(tot / max(n, 1)), steps
        tot += loss.item() * y.numel(); n += y.numel()
    return math.exp(tot / n), steps
tr, va, te = batchify(train, B), batchify(valid, B), batchify(test, B)
if max_steps:
    t0 = time.perf_counter(); _, s = run(tr, True)
    dt = time.perf_counter() - t0
    print(f"tokens_per_s={s*T*B/dt:.0f} est_epoch_s={tr.numel()/(s*T*B/dt):.0f}"); sys.exit()
t_start = time.perf_counter()
for ep in range(13):
    lr = 1.0 * (0.5 ** max(0, ep - 3))
    t0 = time.perf_counter(); trp, _ = run(tr, True, lr); vp, _ = run(va, False)
    print(f"epoch {ep+1} lr {lr:.4f} train_ppl {trp:.2f} valid_ppl {vp:.2f} epoch_s {time.perf_counter()-t0:.0f}", flush=True)
tp, _ = run(te, False)
print(f"test_ppl={tp:.2f} total_s={time.perf_counter()-t_start:.0f}")
