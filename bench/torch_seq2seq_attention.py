#!/usr/bin/env python3
"""Reference: examples/seq2seq_attention in PyTorch (CPU), the same task, model and training.

Task: a date between 1950 and 2049 in one of twelve surface forms ("tuesday, march 3rd 2021", "03/03/2021",
"2021.3.3", "sat 3 march 21", ...; words are tokens, every digit and punctuation mark a token) -> "2021-03-03"
one character at a time. The held-out dates are the first TEST_SIZE of a shuffle of all days and never appear
in training. (The same generator as the C++ program, with Python's random instead of unroll's Generator: the
same distribution, not the same examples.)
Model: embedding E -> bidirectional GRU/LSTM (H per direction, packed ragged batch) -> decoder cell of size
2H with input feeding, attention additive | general | dot over the encoder outputs (padding masked), tanh(W_c
[h; context]) -> linear to the characters; teacher forcing; Adam, clip_grad_norm 1; batches bucketed by
length like unroll::data::Loader. Evaluation: exact match of greedy and beam-search decoding.

  /usr/bin/python3 bench/torch_seq2seq_attention.py                  # the C++ program's default run
  /usr/bin/python3 bench/torch_seq2seq_attention.py --steps 50 --time  # prints step_ms= (median per step)
Threads: --threads K (torch.set_num_threads); bench/compare_seq2seq picks the faster of 1 and all cores."""
import argparse
import datetime
import random
import statistics
import time

import torch
import torch.nn as nn

# ---- the task -------------------------------------------------------------------------------------------
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december"]
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
DAYS = 36525  # 1950-01-01 .. 2049-12-31


def example(day, rng):
    """(source tokens, target characters) of the date 1950-01-01 + day in a random surface form."""
    date = datetime.date(1950, 1, 1) + datetime.timedelta(days=day)
    y, m, d = date.year, date.month, date.day
    title = rng.randrange(3) == 0

    def name(w):
        w = w[:3] if rng.randrange(2) else w
        return [w.capitalize() if title else w]

    month, wday = name(MONTHS[m - 1]), name(WEEKDAYS[date.weekday()])
    D, DD, M, MM, YYYY, YY = list(str(d)), list(f"{d:02}"), list(str(m)), list(f"{m:02}"), list(str(y)), list(f"{y % 100:02}")
    ord_ = D + [{1: "st", 2: "nd", 3: "rd"}.get(d % 10, "th") if d not in (11, 12, 13) else "th"]
    forms = [lambda: wday + [","] + month + ord_ + YYYY, lambda: D + month + YYYY,
             lambda: MM + ["/"] + DD + ["/"] + YYYY, lambda: month + D + [","] + YYYY,
             lambda: YYYY + ["."] + M + ["."] + D, lambda: wday + D + month + YY,
             lambda: ["the"] + ord_ + ["of"] + month + YYYY, lambda: DD + ["."] + MM + ["."] + YYYY,
             lambda: YYYY + ["-"] + MM + ["-"] + DD, lambda: YYYY + MM + DD,
             lambda: wday + [","] + D + month + YYYY, lambda: ord_ + month + YYYY]
    return forms[rng.randrange(12)](), list(f"{y:04}-{m:02}-{d:02}")


def make_task(train_size, test_size, seed):
    rng = random.Random(seed)
    days = list(range(DAYS))
    rng.shuffle(days)
    test = [example(day, rng) for day in days[:test_size]]
    train = [example(days[test_size + rng.randrange(DAYS - test_size)], rng) for _ in range(train_size)]
    return train, test


def batches(data, batch, rng, pool=50):
    """Shuffled, cut into pools of `pool` batches sorted by source length, batches in random order."""
    order = list(range(len(data)))
    rng.shuffle(order)
    out = []
    for p in range(0, len(order), batch * pool):
        chunk = sorted(order[p:p + batch * pool], key=lambda i: len(data[i][0]))
        out += [chunk[i:i + batch] for i in range(0, len(chunk), batch)]
    rng.shuffle(out)
    return out


def pad(seqs, value=0):
    """Lists of ids -> [T, N] int64, lengths [N], mask bool [T, N] (true at real steps)."""
    lengths = torch.tensor([len(s) for s in seqs])
    x = torch.full((int(lengths.max()), len(seqs)), value, dtype=torch.long)
    for n, s in enumerate(seqs):
        x[:len(s), n] = torch.tensor(s)
    return x, lengths, torch.arange(x.size(0)).unsqueeze(1) < lengths


# ---- model ----------------------------------------------------------------------------------------------
class Seq2Seq(nn.Module):
    def __init__(self, source_vocab, target_vocab, embed, hidden, cell, attention, bos):
        super().__init__()
        D = 2 * hidden
        self.cell, self.attention, self.bos = cell, attention, bos
        self.source_embed, self.target_embed = nn.Embedding(source_vocab, embed), nn.Embedding(target_vocab, embed)
        rnn, rnn_cell = (nn.GRU, nn.GRUCell) if cell == "gru" else (nn.LSTM, nn.LSTMCell)
        self.encoder, self.decoder = rnn(embed, hidden, bidirectional=True), rnn_cell(embed + D, D)
        if attention == "additive":  # v^T tanh(W_q q + W_k k_s)
            self.query_proj, self.v = nn.Linear(D, D, bias=False), nn.Linear(D, 1, bias=False)
        if attention != "dot":  # additive: W_k; general: q . W k_s
            self.key_proj = nn.Linear(D, D, bias=False)
        self.bridge, self.combine, self.out = nn.Linear(D, D), nn.Linear(2 * D, D), nn.Linear(D, target_vocab)

    def encode(self, source, lengths, mask):  # source [S, N] -> (keys, values, mask), (state, feed)
        packed = nn.utils.rnn.pack_padded_sequence(self.source_embed(source), lengths, enforce_sorted=False)
        outputs, last = self.encoder(packed)
        outputs = nn.utils.rnn.pad_packed_sequence(outputs, total_length=source.size(0))[0]  # [S, N, D]
        last = last[0] if self.cell == "lstm" else last  # [2, N, H]
        h = torch.tanh(self.bridge(torch.cat([last[0], last[1]], 1)))  # [N, D]
        keys = outputs if self.attention == "dot" else self.key_proj(outputs)
        return (keys, outputs, mask), ((h, torch.zeros_like(h)) if self.cell == "lstm" else h, torch.zeros_like(h))

    def step(self, previous, decoder, memory):  # previous [N] -> logits [N, C], weights [N, S], decoder
        (state, feed), (keys, values, mask) = decoder, memory
        state = self.decoder(torch.cat([self.target_embed(previous), feed], 1), state)
        h = state[0] if self.cell == "lstm" else state  # [N, D]
        if self.attention == "additive":
            scores = self.v(torch.tanh(self.query_proj(h) + keys)).squeeze(2)  # [S, N]
        else:
            scores = (keys * h).sum(2)  # [S, N]
        weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), 0)  # [S, N]
        context = (weights.unsqueeze(2) * values).sum(0)  # [N, D]
        feed = torch.tanh(self.combine(torch.cat([h, context], 1)))
        return self.out(feed), weights.t(), (state, feed)

    def loss(self, source, lengths, mask, targets):  # teacher forcing; targets [T, N], -100 after the end
        memory, decoder = self.encode(source, lengths, mask)
        previous, logits = torch.full((source.size(1),), self.bos), []
        for target in targets:
            step_logits, _, decoder = self.step(previous, decoder, memory)
            logits.append(step_logits)
            previous = target.masked_fill(target < 0, self.bos)
        return nn.functional.cross_entropy(torch.cat(logits), targets.reshape(-1), ignore_index=-100)
# ---- end of model ---------------------------------------------------------------------------------------


# ---- decoding: greedy and beam search -------------------------------------------------------------------
@torch.no_grad()
def greedy(model, source, lengths, mask, eos, max_len):
    memory, decoder = model.encode(source, lengths, mask)
    previous, out = torch.full((source.size(1),), model.bos), []
    for _ in range(max_len):
        logits, _, decoder = model.step(previous, decoder, memory)
        previous = logits.argmax(1)
        out.append(previous)
    out = torch.stack(out, 1).tolist()
    return [row[:row.index(eos)] if eos in row else row for row in out]


@torch.no_grad()
def beam_search(model, source, K, eos, max_len):  # source [S, 1] -> the best ended output (mean log-prob)
    (keys, values, mask), (state, feed) = model.encode(source, torch.tensor([source.size(0)]),
                                                       torch.ones_like(source, dtype=torch.bool))
    beams, ended = [([], 0.0)], []
    for t in range(max_len + 1):
        B = len(beams)
        memory = (keys.expand(-1, B, -1), values.expand(-1, B, -1), mask.expand(-1, B))
        previous = torch.tensor([b[0][-1] if b[0] else model.bos for b in beams])
        logits, _, (state, feed) = model.step(previous, (state, feed), memory)
        logp = torch.log_softmax(logits, 1) + torch.tensor([b[1] for b in beams]).unsqueeze(1)
        C = logp.size(1)
        scores, flat = logp.view(-1).topk(min(K, B * C))
        nxt, parents = [], []
        for score, i in zip(scores.tolist(), flat.tolist()):
            if i % C == eos or t == max_len:
                ended.append((beams[i // C][0], score))
            else:
                nxt.append((beams[i // C][0] + [i % C], score)); parents.append(i // C)
        if not nxt or len(ended) >= K:
            break
        keep = torch.tensor(parents)
        state = tuple(s[keep] for s in state) if isinstance(state, tuple) else state[keep]
        feed, beams = feed[keep], nxt
    return max(ended, key=lambda b: b[1] / (len(b[0]) + 1))[0] if ended else []
# ---- end of decoding ------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--embed", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--clip", type=float, default=1.0)
    parser.add_argument("--train-size", type=int, default=25600)
    parser.add_argument("--test-size", type=int, default=1000)
    parser.add_argument("--beam", type=int, default=4)
    parser.add_argument("--cell", choices=["gru", "lstm"], default="gru")
    parser.add_argument("--attention", choices=["additive", "general", "dot"], default="additive")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: PyTorch's default)")
    parser.add_argument("--time", action="store_true", help="train --steps steps, print step_ms=, no evaluation")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train, test = make_task(args.train_size, args.test_size, args.seed)
    source_itos = ["<pad>", "<unk>"] + sorted({t for s, _ in train for t in s})
    target_itos = ["<pad>", "<unk>", "<eos>", "<bos>"] + sorted({c for _, t in train for c in t})
    stoi, ctoi = {t: i for i, t in enumerate(source_itos)}, {c: i for i, c in enumerate(target_itos)}
    eos, bos, max_len = 2, 3, 12
    encode = lambda data: [([stoi.get(t, 1) for t in s], [ctoi[c] for c in t] + [eos]) for s, t in data]
    train_ids, test_ids = encode(train), encode(test)
    model = Seq2Seq(len(source_itos), len(target_itos), args.embed, args.hidden, args.cell, args.attention, bos)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    print(f"task: {len(train)} training examples, {len(test)} held-out dates; model {args.cell} "
          f"{args.attention}, {sum(p.numel() for p in model.parameters())} parameters; threads "
          f"{torch.get_num_threads()}", flush=True)
    rng, step, times, start = random.Random(args.seed), 0, [], time.perf_counter()
    while step < args.steps:
        for batch in batches(train_ids, args.batch, rng):
            if step == args.steps:
                break
            source, lengths, mask = pad([train_ids[i][0] for i in batch])
            targets = pad([train_ids[i][1] for i in batch], -100)[0]
            t0 = time.perf_counter()  # the step: forward, backward, clipping, update (as the C++ program times it)
            loss = model.loss(source, lengths, mask, targets)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            opt.step()
            times.append(1000 * (time.perf_counter() - t0))
            step += 1
            if step % max(1, args.steps // 10) == 0:
                print(f"step {step} loss {loss.item():.4f} elapsed_s {time.perf_counter() - start:.1f}", flush=True)
    if args.time:
        print(f"step_ms={statistics.median(times[min(5, len(times) - 1):]):.3f}")
        return
    model.eval()
    greedy_right = beam_right = 0
    for p in range(0, len(test_ids), 250):
        chunk = test_ids[p:p + 250]
        source, lengths, mask = pad([s for s, _ in chunk])
        for n, (out, (s, t)) in enumerate(zip(greedy(model, source, lengths, mask, eos, max_len), chunk)):
            greedy_right += out == t[:-1]
            beam_right += beam_search(model, torch.tensor(s).unsqueeze(1), args.beam, eos, max_len) == t[:-1]
    print(f"held-out exact match ({len(test)} dates): greedy {100 * greedy_right / len(test):.1f}%, "
          f"beam search (K = {args.beam}) {100 * beam_right / len(test):.1f}%; training "
          f"{sum(times) / 1000:.1f} s, median step {statistics.median(times):.2f} ms")


if __name__ == "__main__":
    main()
