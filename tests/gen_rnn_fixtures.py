#!/usr/bin/python3
"""Generate tests/fixtures/rnn_reference.txt: PyTorch reference values for unroll's recurrent layers.

Run from anywhere with the system interpreter (Debian's python3-torch):

    /usr/bin/python3 tests/gen_rnn_fixtures.py

For nn.RNN (tanh and relu), nn.LSTM and nn.GRU, every combination of num_layers {1, 2, 3}, bidirectional
{no, yes}, batch_first {no, yes} and lengths {equal, ragged} (96 configs, bias=True), plus 4 configs with
bias=False (one per mode; 2 layers, bidirectional, ragged), plus 5 LSTM configs with proj_size=2: 105 cases. tests/layers/test_rnn_vs_torch.cpp
reads the file (through tests/support/fixtures.hpp), builds the unroll layer named by the case, loads the
parameters by their state_dict names and compares outputs, final states and gradients.

The output is deterministic (config k uses torch.manual_seed(SEED + k)). Every computation is done in
torch.float64; inputs, initial states, weights and loss weights are first rounded to float32, so the
float32 build of unroll sees exactly the values torch saw. Each case is also recomputed in float32 and
must agree with the float64 result to 1e-5 relative (a tenth of the test's tolerance): that keeps cases
out where the result is ill-conditioned (e.g. a ReLU pre-activation within rounding distance of 0).

Case names: <mode>_L<layers>_<uni|bi>_<tm|bf>_<equal|ragged>[_nobias|_proj<P>]
    mode: rnn_tanh, rnn_relu, lstm, gru;  tm = time-major [T, N, *], bf = batch_first [N, T, *]
    ragged: lengths = [5, 2, 4] (unsorted) through pack_padded_sequence(enforce_sorted=False) and
            pad_packed_sequence(total_length=T); equal: no packing (unroll gets undefined lengths)

proj<P>: nn.LSTM(proj_size=P): h0, w_h and h_n are [L*D, N, P], the output [T, N, D*P] (c stays H wide).

The script also writes tests/fixtures/ln_lstm_reference.txt: unroll's LayerNormLSTMCell (Ba et al. 2016,
layers/ln_lstm_cell.hpp) written here with plain torch ops (matmul, mean, var, sigmoid, tanh; no
nn.LayerNorm), unrolled over time as unroll's RecurrentNetwork does (padded steps keep the state and output
zeros; the reverse direction reads each sequence reversed within its length), for the cases
ln_lstm_L1_uni_equal, ln_lstm_L2_uni_ragged and ln_lstm_L2_bi_ragged, with the same roles (parameters
named as RecurrentNetwork names them: <cell parameter>_l<k>[_reverse]).

File format: as tests/fixtures/ops_reference.txt ('case <name>' ... 'end', 'tensor <role> <rank> <dims...>
: <values...>'), values printed with %.9g (float32 precision is what is compared). Roles:
    param.<name>    every parameter, <name> its PyTorch state_dict key, in state_dict order
    x               input [T, N, I] ([N, T, I] for bf)
    h0, c0          initial state [L*D, N, H] (c0 only for lstm)
    lengths         [N] sequence lengths (all T for 'equal' cases, where they are not passed on)
    w_out, w_h, w_c loss weights; loss = sum(output * w_out) + sum(h_n * w_h) (+ sum(c_n * w_c))
    output, h_n, c_n
    grad_x, grad_h0, grad_c0, grad.<name>   gradients of the loss
"""
import copy
import os

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

DT = torch.float64
SEED = 20240612
HERE = os.path.dirname(os.path.abspath(__file__))
OUT_PATH = os.path.join(HERE, "fixtures", "rnn_reference.txt")
LN_OUT_PATH = os.path.join(HERE, "fixtures", "ln_lstm_reference.txt")

T, N, I, H = 5, 3, 3, 4
P = 2  # proj_size of the projected LSTM cases
LN_EPS = 1e-5
RAGGED = [5, 2, 4]
MODES = ["rnn_tanh", "rnn_relu", "lstm", "gru"]
SELF_CHECK_TOL = 1e-5


def f32(t):
    return t.to(torch.float32).to(DT)


def configs():
    out = []
    for mode in MODES:
        for layers in (1, 2, 3):
            for bidi in (False, True):
                for bf in (False, True):
                    for ragged in (False, True):
                        out.append(dict(mode=mode, layers=layers, bidi=bidi, bf=bf, ragged=ragged, bias=True))
    for mode in MODES:
        out.append(dict(mode=mode, layers=2, bidi=True, bf=False, ragged=True, bias=False))
    # appended last, so every earlier case keeps its index (hence its seed) and its bytes
    for layers, bidi, bf, ragged in ((1, False, False, False), (2, False, False, True), (1, True, False, False),
                                     (2, True, False, True), (2, True, True, True)):
        out.append(dict(mode="lstm", layers=layers, bidi=bidi, bf=bf, ragged=ragged, bias=True, proj=P))
    return out


def case_name(c):
    name = "%s_L%d_%s_%s_%s" % (c["mode"], c["layers"], "bi" if c["bidi"] else "uni", "bf" if c["bf"] else "tm",
                                "ragged" if c["ragged"] else "equal")
    if c.get("proj", 0):
        return name + "_proj%d" % c["proj"]
    return name if c["bias"] else name + "_nobias"


def make_module(c):
    kw = dict(input_size=I, hidden_size=H, num_layers=c["layers"], bias=c["bias"], batch_first=c["bf"],
              dropout=0.0, bidirectional=c["bidi"])
    if c["mode"] == "lstm":
        return nn.LSTM(proj_size=c.get("proj", 0), **kw)
    if c["mode"] == "gru":
        return nn.GRU(**kw)
    return nn.RNN(nonlinearity=c["mode"][4:], **kw)


def make_inputs(c, seed):
    """Module (float64, float32-representable weights) and every input of one config."""
    torch.manual_seed(seed)
    m = make_module(c).to(DT)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(f32(p))
    D = 2 if c["bidi"] else 1
    S = c["layers"] * D
    HP = c.get("proj", 0) or H  # width of h and of the output per direction
    x = f32(torch.randn((N, T, I) if c["bf"] else (T, N, I), dtype=DT))
    h0 = f32(0.5 * torch.randn(S, N, HP, dtype=DT))
    c0 = f32(0.5 * torch.randn(S, N, H, dtype=DT)) if c["mode"] == "lstm" else None
    lengths = torch.tensor(RAGGED if c["ragged"] else [T] * N, dtype=DT)
    out_shape = (N, T, D * HP) if c["bf"] else (T, N, D * HP)
    w_out = f32(torch.randn(out_shape, dtype=DT))
    w_h = f32(torch.randn(S, N, HP, dtype=DT))
    w_c = f32(torch.randn(S, N, H, dtype=DT)) if c["mode"] == "lstm" else None
    return m, dict(x=x, h0=h0, c0=c0, lengths=lengths, w_out=w_out, w_h=w_h, w_c=w_c)


def run(c, m, inp, dtype):
    """Forward + backward in `dtype`; returns (results, grads) as float64 tensors."""
    m = copy.deepcopy(m).to(dtype)

    def leaf(t):
        return t.detach().clone().to(dtype).requires_grad_(True) if t is not None else None

    x, h0, c0 = leaf(inp["x"]), leaf(inp["h0"]), leaf(inp["c0"])
    state = (h0, c0) if c0 is not None else h0
    if c["ragged"]:
        lengths = inp["lengths"].to(torch.long)
        packed = pack_padded_sequence(x, lengths, batch_first=c["bf"], enforce_sorted=False)
        y_packed, s = m(packed, state)
        y, _ = pad_packed_sequence(y_packed, batch_first=c["bf"], total_length=T)
    else:
        y, s = m(x, state)
    h_n, c_n = (s if isinstance(s, tuple) else (s, None))
    loss = (y * inp["w_out"].to(dtype)).sum() + (h_n * inp["w_h"].to(dtype)).sum()
    if c_n is not None:
        loss = loss + (c_n * inp["w_c"].to(dtype)).sum()
    loss.backward()
    results = dict(output=y, h_n=h_n, c_n=c_n)
    grads = dict(grad_x=x.grad, grad_h0=h0.grad, grad_c0=c0.grad if c0 is not None else None)
    for name, p in m.named_parameters():
        grads["grad." + name] = p.grad if p.grad is not None else torch.zeros_like(p)
    return {k: (v.detach().clone().to(DT) if v is not None else None) for k, v in {**results, **grads}.items()}


def max_rel_err(a, b):
    return ((a - b).abs() / b.abs().clamp(min=1.0)).max().item()


def fmt_tensor(role, t):
    t = t.detach().to(DT).contiguous()
    dims = [str(d) for d in t.shape]
    vals = ["%.9g" % v for v in t.reshape(-1).tolist()]
    return " ".join(["tensor", role, str(len(dims))] + dims + [":"] + vals)


def gen_case(k, c):
    name = case_name(c)
    # Try seeds until the float32 recomputation agrees (almost always the first one).
    for attempt in range(20):
        seed = SEED + 1000 * attempt + k
        m, inp = make_inputs(c, seed)
        ref = run(c, m, inp, DT)
        chk = run(c, m, inp, torch.float32)
        worst = max(max_rel_err(chk[key], ref[key]) for key in ref if ref[key] is not None)
        if worst <= SELF_CHECK_TOL:
            break
        print("  %s: seed %d is ill-conditioned in float32 (%.3g), trying another" % (name, seed, worst))
    else:
        raise RuntimeError("no well-conditioned seed for " + name)
    lines = ["case " + name]
    sd = m.state_dict()
    for pname, p in sd.items():
        lines.append(fmt_tensor("param." + pname, p))
    for role in ("x", "h0", "c0", "lengths", "w_out", "w_h", "w_c"):
        if inp[role] is not None:
            lines.append(fmt_tensor(role, inp[role]))
    for role in ("output", "h_n", "c_n", "grad_x", "grad_h0", "grad_c0"):
        if ref[role] is not None:
            lines.append(fmt_tensor(role, ref[role]))
    for pname in sd.keys():
        lines.append(fmt_tensor("grad." + pname, ref["grad." + pname]))
    lines.append("end")
    return lines, worst


def main():
    torch.set_num_threads(1)
    header = [
        "# rnn_reference.txt: PyTorch %s reference values for unroll's RNN / LSTM / GRU layers (generated by"
        % torch.__version__,
        "# tests/gen_rnn_fixtures.py, seed %d; do not edit by hand). Computed in float64 from" % SEED,
        "# float32-representable inputs and weights; T=%d N=%d I=%d H=%d, ragged lengths %s." % (T, N, I, H, RAGGED),
        "#",
        "# Format: 'case <name>' ... 'end' blocks of 'tensor <role> <rank> <dims...> : <values...>' (row-major, %.9g).",
        "# Case name: <rnn_tanh|rnn_relu|lstm|gru>_L<layers>_<uni|bi>_<tm|bf>_<equal|ragged>[_nobias|_proj<P>] (proj: LSTM proj_size=P).",
        "# Roles: param.<state_dict key> (in state_dict order), x, h0, c0, lengths, w_out, w_h, w_c, output, h_n,",
        "# c_n, grad_x, grad_h0, grad_c0, grad.<state_dict key>; loss = sum(output*w_out) + sum(h_n*w_h)",
        "# (+ sum(c_n*w_c)).",
        "",
    ]
    body = []
    cfgs = configs()
    names = [case_name(c) for c in cfgs]
    assert len(set(names)) == len(names) == 105
    worst = 0.0
    for k, c in enumerate(cfgs):
        lines, w = gen_case(k, c)
        worst = max(worst, w)
        body.extend(lines)
    os.makedirs(os.path.dirname(OUT_PATH), exist_ok=True)
    with open(OUT_PATH, "w") as f:
        f.write("\n".join(header + body) + "\n")
    print("wrote %d cases to %s (%d bytes); float32-vs-float64 self-check worst %.3g"
          % (len(cfgs), OUT_PATH, os.path.getsize(OUT_PATH), worst))
    write_ln_lstm_fixtures()


# ---- LayerNormLSTMCell reference (plain torch ops) --------------------------------------------------------
LN_CONFIGS = [dict(layers=1, bidi=False, ragged=False), dict(layers=2, bidi=False, ragged=True),
              dict(layers=2, bidi=True, ragged=True)]
LN_PARAMS = ["weight_ih", "weight_hh", "bias", "ln_ih_weight", "ln_hh_weight", "ln_c_weight", "ln_c_bias"]


def ln_case_name(c):
    return "ln_lstm_L%d_%s_tm_%s" % (c["layers"], "bi" if c["bidi"] else "uni", "ragged" if c["ragged"] else "equal")


def layer_norm(v, gain, shift):
    """(v - mean) / sqrt(biased var + eps) * gain (+ shift) over the last axis."""
    mean = v.mean(dim=-1, keepdim=True)
    var = ((v - mean) ** 2).mean(dim=-1, keepdim=True)
    out = (v - mean) / torch.sqrt(var + LN_EPS) * gain
    return out + shift if shift is not None else out


def ln_lstm_step(p, x, h, c):
    """One step of layers/ln_lstm_cell.hpp: x [N, I], h, c [N, H] -> h', c'."""
    a = layer_norm(x @ p["weight_ih"].t(), p["ln_ih_weight"], None) + p["bias"]
    a = a + layer_norm(h @ p["weight_hh"].t(), p["ln_hh_weight"], None)
    ai, af, ag, ao = a.chunk(4, 1)
    c2 = torch.sigmoid(af) * c + torch.sigmoid(ai) * torch.tanh(ag)
    h2 = torch.sigmoid(ao) * torch.tanh(layer_norm(c2, p["ln_c_weight"], p["ln_c_bias"]))
    return h2, c2


def reverse_within(x, lengths):
    """x [T, N, *]: each sequence n reversed within its first lengths[n] steps, padding left in place."""
    out = x.clone()
    for n, length in enumerate(lengths):
        out[:length, n] = x[:length, n].flip(0)
    return out


def ln_run_direction(p, x, h, c, lengths):
    """The unroller: x [T, N, I] -> output [T, N, H] (zeros at padded steps), final (h, c)."""
    outs = []
    for t in range(x.shape[0]):
        h2, c2 = ln_lstm_step(p, x[t], h, c)
        real = torch.tensor([t < length for length in lengths]).unsqueeze(1)
        h = torch.where(real, h2, h)
        c = torch.where(real, c2, c)
        outs.append(h2 * real)
    return torch.stack(outs, 0), h, c


def ln_forward(c, params, x, h0, c0, lengths):
    D = 2 if c["bidi"] else 1
    inp, hs, cs = x, [], []
    for layer in range(c["layers"]):
        outs = []
        for d in range(D):
            k = layer * D + d
            p = {name: params["%s_l%d%s" % (name, layer, "_reverse" if d else "")] for name in LN_PARAMS}
            seq = reverse_within(inp, lengths) if d else inp
            y, h, cc = ln_run_direction(p, seq, h0[k], c0[k], lengths)
            outs.append(reverse_within(y, lengths) if d else y)
            hs.append(h)
            cs.append(cc)
        inp = torch.cat(outs, 2)
    return inp, torch.stack(hs, 0), torch.stack(cs, 0)


def ln_case(k, c):
    torch.manual_seed(SEED + 5000 + k)
    D = 2 if c["bidi"] else 1
    S = c["layers"] * D
    bound = 1 / H ** 0.5
    params = {}
    for layer in range(c["layers"]):
        layer_in = I if layer == 0 else D * H
        for d in range(D):
            suffix = "_l%d%s" % (layer, "_reverse" if d else "")
            shapes = dict(weight_ih=(4 * H, layer_in), weight_hh=(4 * H, H), bias=(4 * H,), ln_ih_weight=(4 * H,),
                          ln_hh_weight=(4 * H,), ln_c_weight=(H,), ln_c_bias=(H,))
            for name in LN_PARAMS:
                v = torch.empty(shapes[name], dtype=DT).uniform_(-bound, bound)
                if name in ("ln_ih_weight", "ln_hh_weight", "ln_c_weight"):
                    v = 1 + v  # gains near 1, not all equal
                params[name + suffix] = f32(v).requires_grad_(True)
    x = f32(torch.randn(T, N, I, dtype=DT)).requires_grad_(True)
    h0 = f32(0.5 * torch.randn(S, N, H, dtype=DT)).requires_grad_(True)
    c0 = f32(0.5 * torch.randn(S, N, H, dtype=DT)).requires_grad_(True)
    lengths = RAGGED if c["ragged"] else [T] * N
    w_out = f32(torch.randn(T, N, D * H, dtype=DT))
    w_h = f32(torch.randn(S, N, H, dtype=DT))
    w_c = f32(torch.randn(S, N, H, dtype=DT))
    y, h_n, c_n = ln_forward(c, params, x, h0, c0, lengths)
    loss = (y * w_out).sum() + (h_n * w_h).sum() + (c_n * w_c).sum()
    loss.backward()
    lines = ["case " + ln_case_name(c)]
    for name, v in params.items():
        lines.append(fmt_tensor("param." + name, v))
    lines.append(fmt_tensor("x", x))
    lines.append(fmt_tensor("h0", h0))
    lines.append(fmt_tensor("c0", c0))
    lines.append(fmt_tensor("lengths", torch.tensor(lengths, dtype=DT)))
    for role, v in (("w_out", w_out), ("w_h", w_h), ("w_c", w_c), ("output", y), ("h_n", h_n), ("c_n", c_n),
                    ("grad_x", x.grad), ("grad_h0", h0.grad), ("grad_c0", c0.grad)):
        lines.append(fmt_tensor(role, v))
    for name, v in params.items():
        lines.append(fmt_tensor("grad." + name, v.grad))
    lines.append("end")
    return lines


def write_ln_lstm_fixtures():
    header = [
        "# ln_lstm_reference.txt: reference values for unroll's LayerNormLSTMCell in RecurrentNetwork (generated",
        "# by tests/gen_rnn_fixtures.py with torch %s, plain torch ops in float64; do not edit by hand)." % torch.__version__,
        "# T=%d N=%d I=%d H=%d eps=%g, ragged lengths %s; roles as rnn_reference.txt (h0, c0, w_c always present)."
        % (T, N, I, H, LN_EPS, RAGGED),
        "",
    ]
    body = []
    for k, c in enumerate(LN_CONFIGS):
        body.extend(ln_case(k, c))
    with open(LN_OUT_PATH, "w") as f:
        f.write("\n".join(header + body) + "\n")
    print("wrote %d cases to %s (%d bytes)" % (len(LN_CONFIGS), LN_OUT_PATH, os.path.getsize(LN_OUT_PATH)))


if __name__ == "__main__":
    main()
