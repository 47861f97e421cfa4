#!/usr/bin/env python3
"""PyTorch's side of bench/distributed_ptb.sh: the zaremba-small PTB model of bench/torch_ptb_small.py
(2 x 200 LSTM, T 20, SGD lr 1, clip 5, loss = T x the batch-mean cross-entropy) trained data-parallel with
torch.nn.parallel.DistributedDataParallel over the gloo backend, K processes on this machine, each reading
its own BATCH columns of the stream (the columns rank r*BATCH .. of one process batching with K*BATCH).
Times the first STEPS training windows and prints the words per second of all ranks together.
Usage: torch_ddp_ptb.py DATA_DIR RANKS BATCH_PER_RANK STEPS
Run with OMP_NUM_THREADS=1 (PyTorch's fastest setting here); every rank uses one thread."""
import gzip, os, socket, sys, time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

T, H, L = 20, 200, 2


def read(d, name):
    p = os.path.join(d, name)
    f = gzip.open(p + ".gz", "rt") if os.path.exists(p + ".gz") else open(p)
    return f.read().replace("\n", "<eos>").split()


def worker(rank, world, data_dir, batch, steps, port, result):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    train = read(data_dir, "ptb.train.txt")
    vocab = {w: i for i, w in enumerate(sorted(set(train)))}
    ids = torch.tensor([vocab[w] for w in train])
    rows = len(ids) // (batch * world)  # columns of the whole stream batched with world * batch
    mine = ids[rank * batch * rows:(rank + 1) * batch * rows]
    data = mine.view(batch, rows).t().contiguous()  # [rows, batch]
    V = len(vocab)
    torch.manual_seed(0)

    class LM(torch.nn.Module):
        def __init__(s):
            super().__init__()
            s.emb = torch.nn.Embedding(V, H); s.rnn = torch.nn.LSTM(H, H, L); s.out = torch.nn.Linear(H, V)
            for p in s.parameters(): torch.nn.init.uniform_(p, -0.1, 0.1)

        def forward(s, x, h):
            y, h = s.rnn(s.emb(x), h)
            return s.out(y), h

    model = torch.nn.parallel.DistributedDataParallel(LM())
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    h = None
    dist.barrier()
    t0 = time.perf_counter()
    for step in range(steps):
        i = step * T
        x, y = data[i:i + T], data[i + 1:i + 1 + T]
        if h is not None: h = tuple(t.detach() for t in h)
        logits, h = model(x, h)
        loss = torch.nn.functional.cross_entropy(logits.view(-1, V), y.reshape(-1))
        opt.zero_grad(); (loss * T).backward()  # DDP averages the gradients during backward
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
    dist.barrier()
    dt = time.perf_counter() - t0
    if rank == 0: result.put(steps * T * batch * world / dt)
    dist.destroy_process_group()


if __name__ == "__main__":
    data_dir, world, batch, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    with socket.socket() as s:  # a free port for the rendezvous
        s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
    ctx = mp.get_context("spawn")
    result = ctx.SimpleQueue()
    mp.spawn(worker, args=(world, data_dir, batch, steps, port, result), nprocs=world, join=True)
    print(f"tokens_per_s={result.get():.0f}")
