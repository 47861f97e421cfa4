#!/usr/bin/python3
"""Generate tests/fixtures/attention_reference.txt: PyTorch reference values for unroll's LayerNorm,
MultiheadAttention, AdditiveAttention and MultiplicativeAttention modules.

Run from anywhere with the system interpreter (Debian's python3-torch):

    /usr/bin/python3 tests/gen_attention_fixtures.py

LayerNorm and MultiheadAttention are torch.nn.LayerNorm and torch.nn.MultiheadAttention themselves.
The two RNN attentions have no torch module; they are written below with plain torch ops from their
formulas (layers/additive_attention.hpp, layers/multiplicative_attention.hpp):
    additive:        score[s, n] = v . tanh(W_q q[n] + b_q + W_k k[s, n])
    multiplicative:  score[s, n] = q[n] . k[s, n]  (dot)   or   q[n] . (W k[s, n])  (general)
    weights = softmax over s of the scores, masked steps (mask false) -inf; context[n] = sum_s w[s, n] v[s, n]
tests/layers/test_layer_norm.cpp, test_multihead_attention.cpp and test_attention_modules.cpp read the file
(through tests/support/fixtures.hpp), build the unroll module the case describes, load the parameters by
their state_dict names, run forward and backward and compare.

The output is deterministic (case k uses torch.manual_seed(SEED + k)). Parameters and inputs are rounded to
float32 (so a float32 run sees exactly the values torch saw); everything is computed in float64 and printed
with %.17g, so the tests can compare in float64 closely as well as in float32.

Roles (per case):
    opt.<name>        int64 scalar options (see each generator below)
    param.<name>      every parameter, <name> its state_dict key, in state_dict order
    in.<name>         inputs (float), mask.<name> masks (bool or float, as passed to torch)
    w.<name>          loss weights; loss = sum over outputs o of sum(o * w.o)
    out.<name>        outputs
    grad.<name>       gradient of the loss for parameter <name>; grad_in.<name> for input <name>
"""
import os

import torch
import torch.nn as nn

DT = torch.float64
SEED = 20261202
HERE = os.path.dirname(os.path.abspath(__file__))
OUT_PATH = os.path.join(HERE, "fixtures", "attention_reference.txt")


def f32(t):
    return t.detach().to(torch.float32).to(DT)


def randn(*shape):
    return f32(torch.randn(*shape, dtype=DT))


def fmt_tensor(role, t):
    if t.dtype == torch.bool:
        dims = [str(d) for d in t.shape]
        vals = [str(int(v)) for v in t.reshape(-1).tolist()]
        return " ".join(["tensor", role, str(len(dims))] + dims + ["bool", ":"] + vals)
    if t.dtype == torch.int64:
        dims = [str(d) for d in t.shape]
        vals = [str(int(v)) for v in t.reshape(-1).tolist()]
        return " ".join(["tensor", role, str(len(dims))] + dims + ["int64", ":"] + vals)
    t = t.detach().to(DT).contiguous()
    dims = [str(d) for d in t.shape]
    vals = ["%.17g" % v for v in t.reshape(-1).tolist()]
    return " ".join(["tensor", role, str(len(dims))] + dims + [":"] + vals)


def opt(value):
    return torch.tensor(int(value), dtype=torch.int64)


def randomize(module):
    """float64 module with random float32-representable parameters (not the 1 / 0 defaults)."""
    module = module.to(DT)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(f32(0.5 * torch.randn_like(p)))
    return module


def finish(name, opts, module_params, inputs, masks, outputs):
    """Loss = sum(o * w) over outputs, backward, and the case's lines."""
    weights = {k: randn(*v.shape) for k, v in outputs.items()}
    loss = sum((outputs[k] * weights[k]).sum() for k in outputs)
    loss.backward()
    lines = ["case " + name]
    for k, v in opts.items():
        lines.append(fmt_tensor("opt." + k, opt(v)))
    for k, p in module_params:
        lines.append(fmt_tensor("param." + k, p))
    for k, v in inputs.items():
        lines.append(fmt_tensor("in." + k, v))
    for k, v in masks.items():
        lines.append(fmt_tensor("mask." + k, v))
    for k, v in weights.items():
        lines.append(fmt_tensor("w." + k, v))
    for k, v in outputs.items():
        lines.append(fmt_tensor("out." + k, v))
    for k, p in module_params:
        lines.append(fmt_tensor("grad." + k, p.grad if p.grad is not None else torch.zeros_like(p)))
    for k, v in inputs.items():
        if v.grad is not None:
            lines.append(fmt_tensor("grad_in." + k, v.grad))
    lines.append("end")
    return lines


def leaf(t):
    return t.detach().clone().requires_grad_(True)


# ---- LayerNorm: opt.affine, normalized_shape = the trailing in.x dims counted by opt.nd, opt.eps_e9 = eps * 1e9
def layer_norm_cases():
    cases = []
    for name, shape, nd, affine, eps in [
        ("layer_norm_d1", (2, 3, 5), 1, True, 1e-5),
        ("layer_norm_d2", (3, 2, 4), 2, True, 1e-5),
        ("layer_norm_noaffine", (4, 6), 1, False, 1e-5),
        ("layer_norm_eps", (2, 5), 1, True, 1e-2),
    ]:
        m = nn.LayerNorm(shape[-nd:], eps=eps, elementwise_affine=affine)
        if affine:
            m = randomize(m)
        else:
            m = m.to(DT)
        x = leaf(randn(*shape))
        y = m(x)
        cases.append((name, dict(nd=nd, affine=affine, eps_e9=round(eps * 1e9)), list(m.state_dict().keys()), m,
                      dict(x=x), {}, dict(y=y)))
    return cases


# ---- MultiheadAttention: opt.embed_dim, num_heads, bias, batch_first, kdim, vdim, average, need_weights,
# self (query = key = value, one input 'x'), batched
def mha_cases():
    cases = []
    L, S, N, E = 3, 4, 2, 8
    configs = [
        # name, heads, bias, batch_first, kdim, vdim, kpm, attn_mask kind, average, self, batched
        ("mha_tm", 2, True, False, E, E, None, None, True, False, True),
        ("mha_bf", 2, True, True, E, E, None, None, True, False, True),
        ("mha_tm_kpm", 2, True, False, E, E, "bool", None, True, False, True),
        ("mha_bf_kpm", 4, True, True, E, E, "bool", None, True, False, True),
        ("mha_tm_kpm_float", 2, True, False, E, E, "float", None, True, False, True),
        ("mha_bf_masks_bool", 2, True, True, E, E, "bool", "bool2d", True, False, True),
        ("mha_tm_masks_float3d", 2, True, False, E, E, "bool", "float3d", True, False, True),
        ("mha_tm_kdim_vdim", 2, True, False, 5, 6, "bool", None, True, False, True),
        ("mha_bf_nobias", 1, False, True, E, E, None, None, True, False, True),
        ("mha_tm_per_head", 2, True, False, E, E, "bool", None, False, False, True),
        ("mha_bf_self", 2, True, True, E, E, "bool", None, True, True, True),
        ("mha_unbatched", 2, True, False, E, E, "bool", "bool2d", True, False, False),
    ]
    for name, heads, bias, bf, kdim, vdim, kpm, am, average, self_attn, batched in configs:
        m = randomize(nn.MultiheadAttention(E, heads, dropout=0.0, bias=bias, kdim=kdim, vdim=vdim, batch_first=bf))
        Lq = S if self_attn else L

        def shape(t, d):
            if not batched:
                return (t, d)
            return (N, t, d) if bf else (t, N, d)

        if self_attn:
            x = leaf(randn(*shape(S, E)))
            inputs = dict(x=x)
            q = k = v = x
        else:
            q, k, v = leaf(randn(*shape(L, E))), leaf(randn(*shape(S, kdim))), leaf(randn(*shape(S, vdim)))
            inputs = dict(query=q, key=k, value=v)
        masks = {}
        kpm_t = am_t = None
        if kpm == "bool":
            # batch entry n ignores its last n keys (never all of them)
            kpm_t = torch.zeros((N, S) if batched else (S,), dtype=torch.bool)
            if batched:
                for n in range(N):
                    if n:
                        kpm_t[n, S - n:] = True
            else:
                kpm_t[S - 1] = True
            masks["key_padding"] = kpm_t
        elif kpm == "float":
            kpm_t = randn(N, S)
            masks["key_padding"] = kpm_t
        if am == "bool2d":
            am_t = torch.zeros(Lq, S, dtype=torch.bool)
            am_t[0, 1] = True
            am_t[Lq - 1, 0] = True
            masks["attn"] = am_t
        elif am == "float3d":
            am_t = randn(N * heads, Lq, S)
            masks["attn"] = am_t
        out, w = m(q, k, v, key_padding_mask=kpm_t, need_weights=True, attn_mask=am_t,
                   average_attn_weights=average)
        opts = dict(embed_dim=E, num_heads=heads, bias=bias, batch_first=bf, kdim=kdim, vdim=vdim, average=average,
                    self_attn=self_attn, batched=batched)
        cases.append((name, opts, list(m.state_dict().keys()), m, inputs, masks, dict(output=out, weights=w)))
    return cases


# ---- RNN attentions: opt.kind (0 additive, 1 dot, 2 general), opt.query_size, key_size, hidden_size, bias,
# opt.values (1: separate values tensor, 0: values = keys)
class Additive(nn.Module):
    def __init__(self, q, k, a, bias):
        super().__init__()
        self.query_proj = nn.Linear(q, a, bias=bias)
        self.key_proj = nn.Linear(k, a, bias=False)
        self.v = nn.Linear(a, 1, bias=False)

    def scores(self, query, keys):  # [N, Q], [S, N, K] -> [S, N]
        return self.v(torch.tanh(self.key_proj(keys) + self.query_proj(query)[None])).squeeze(-1)


class Multiplicative(nn.Module):
    def __init__(self, q, k, general):
        super().__init__()
        self.key_proj = nn.Linear(k, q, bias=False) if general else None

    def scores(self, query, keys):  # q . k_s or q . (W k_s)
        k = self.key_proj(keys) if self.key_proj is not None else keys
        return (k * query[None]).sum(-1)


def attend(scores, values, mask):
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    w = torch.softmax(scores, dim=0)  # [S, N]
    return (w[:, :, None] * values).sum(0), w.t()


def rnn_attention_cases():
    cases = []
    S, N = 5, 3
    lengths = [5, 2, 4]
    configs = [
        # name, kind, Q, K, A, bias, separate values, mask
        ("additive", 0, 6, 4, 5, False, True, True),
        ("additive_bias", 0, 6, 4, 5, True, True, True),
        ("additive_nomask_keys", 0, 3, 4, 7, False, False, False),
        ("dot", 1, 4, 4, 0, False, True, True),
        ("dot_nomask_keys", 1, 4, 4, 0, False, False, False),
        ("general", 2, 6, 4, 0, False, True, True),
        ("general_keys", 2, 3, 5, 0, False, False, True),
    ]
    for name, kind, Q, K, A, bias, separate, use_mask in configs:
        m = Additive(Q, K, A, bias) if kind == 0 else Multiplicative(Q, K, kind == 2)
        m = randomize(m)
        query, keys = leaf(randn(N, Q)), leaf(randn(S, N, K))
        inputs = dict(query=query, keys=keys)
        values = keys
        if separate:
            values = leaf(randn(S, N, 3))
            inputs["values"] = values
        masks = {}
        mask = None
        if use_mask:
            mask = torch.tensor([[s < lengths[n] for n in range(N)] for s in range(S)], dtype=torch.bool)
            masks["steps"] = mask
        context, weights = attend(m.scores(query, keys), values, mask)
        opts = dict(kind=kind, query_size=Q, key_size=K, hidden_size=A, bias=bias, values=separate)
        cases.append((name, opts, list(m.state_dict().keys()), m, inputs, masks,
                      dict(context=context, weights=weights)))
    return cases


def main():
    torch.set_num_threads(1)
    header = [
        "# attention_reference.txt: PyTorch %s reference values for unroll's LayerNorm, MultiheadAttention," %
        torch.__version__,
        "# AdditiveAttention and MultiplicativeAttention (generated by tests/gen_attention_fixtures.py, seed %d;"
        % SEED,
        "# do not edit by hand). float32-representable parameters and inputs, computed in float64, printed %.17g.",
        "# Roles: opt.<option> (int64), param.<state_dict key> (state_dict order), in.<input>, mask.<mask>,",
        "# w.<output> (loss weights; loss = sum of sum(output * w)), out.<output>, grad.<param>, grad_in.<input>.",
        "",
    ]
    body = []
    names = []
    k = 0
    for gen in (layer_norm_cases, mha_cases, rnn_attention_cases):
        torch.manual_seed(SEED + 100 * k)
        for name, opts, keys, m, inputs, masks, outputs in gen():
            torch.manual_seed(SEED + 100 * k + len(names) + 1)
            params = [(key, dict(m.named_parameters())[key]) for key in keys]
            body.extend(finish(name, opts, params, inputs, masks, outputs))
            names.append(name)
        k += 1
    assert len(set(names)) == len(names)
    os.makedirs(os.path.dirname(OUT_PATH), exist_ok=True)
    with open(OUT_PATH, "w") as f:
        f.write("\n".join(header + body) + "\n")
    print("wrote %d cases to %s (%d bytes)" % (len(names), OUT_PATH, os.path.getsize(OUT_PATH)))


if __name__ == "__main__":
    main()
