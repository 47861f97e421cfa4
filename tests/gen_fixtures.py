#!/usr/bin/python3
"""Generate tests/fixtures/ops_reference.txt: PyTorch reference values for every op in framework/ops.hpp.

Run from the repository root with the system interpreter (Debian's python3-torch):

    /usr/bin/python3 tests/gen_fixtures.py

The output is deterministic (fixed torch.manual_seed). Every computation is done in torch.float64; every
input and upstream-gradient value is first rounded to float32, so the float32 build of unroll sees exactly
the values torch saw. tests/framework/test_ops_vs_torch.cpp reads the file (through
tests/support/fixtures.hpp) and has one C++ lambda per case name; keep the two in sync.

File format (line based, UTF-8/ASCII):

    # comment                                 (blank lines and lines starting with '#' are ignored)
    case <name>                               starts a case; names are unique, no spaces
    tensor <role> <rank> <dims...> : <values...>
                                              row-major values printed with %.17g (round-trips doubles);
                                              a rank-0 tensor is "tensor <role> 0 : <value>"
    end                                       ends the case

Roles in a case:
    in0, in1, ...   the op's tensor inputs, in the order the C++ lambda takes them
    out             the op's output
    w               the upstream gradient (shape of out); present iff some input is differentiable
    grad<i>         d sum(out * w) / d in<i>; present exactly for the differentiable inputs, so an input
                    without grad<i> (indices, conditions, class targets) is created without requires_grad

Integer/real op parameters (axes, exponents, reductions...) are not stored: they are encoded in the case
name and hard-coded in the matching C++ lambda.
"""
import os

import torch
import torch.nn.functional as F

DT = torch.float64
SEED = 20240611
HERE = os.path.dirname(os.path.abspath(__file__))
OUT_PATH = os.path.join(HERE, "fixtures", "ops_reference.txt")

torch.manual_seed(SEED)


# ---- input helpers (values rounded to float32, stored as float64) ------------------------------------
def f32(t):
    return t.to(torch.float32).to(DT)


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def randn(*shape):
    return f32(torch.randn(tuple(shape), dtype=DT))


def uniform(lo, hi, *shape):
    return f32(torch.rand(tuple(shape), dtype=DT) * (hi - lo) + lo)


def away(margin, *shape):
    """Random signed values with |x| >= margin (no kinks at 0 for abs/relu, no division by ~0)."""
    x = torch.randn(tuple(shape), dtype=DT)
    sign = torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))
    return f32(sign * (margin + x.abs()))


def avoiding(x, points, margin):
    """Shift values lying within `margin` of any of `points` by 3*margin (away from kinks)."""
    x = x.clone()
    for p in points:
        near = (x - p).abs() < margin
        x = torch.where(near, x + 3 * margin, x)
    return f32(x)


def distinct(*shape):
    """Values that are pairwise at least 0.2 apart (no ties for max/argmax)."""
    n = numel(shape)
    perm = torch.randperm(n).to(DT)
    noise = torch.rand(n, dtype=DT) * 0.05
    return f32(((perm - n / 2) * 0.25 + noise).reshape(shape))


def ids(values):
    """An index / class-id tensor: integral values held in float64 (cast to long inside the torch fn)."""
    return torch.tensor(values, dtype=DT)


def mask01(*shape):
    return (torch.rand(tuple(shape), dtype=DT) < 0.5).to(DT)


def L(t):
    return t.to(torch.long)


# ---- cases ---------------------------------------------------------------------------------------------
CASES = []  # (name, [(tensor, differentiable)], fn)


def case(name, fn, *inputs):
    assert all(c[0] != name for c in CASES), name
    CASES.append((name, list(inputs), fn))


def D(t):  # differentiable input
    return (t, True)


def N(t):  # non-differentiable input (indices, conditions, class targets)
    return (t, False)


def flat_cat(pieces):
    """How multi-output ops are checked: piece i flattened and scaled by (i + 1), all concatenated."""
    return torch.cat([p.reshape(-1) * (i + 1) for i, p in enumerate(pieces)])


# elementwise arithmetic with broadcasting
for op, fn in [("add", torch.add), ("sub", torch.sub), ("mul", torch.mul)]:
    case(f"{op}_same", fn, D(randn(3, 4)), D(randn(3, 4)))
    case(f"{op}_bcast_3d_31", fn, D(randn(2, 3, 4)), D(randn(3, 1)))
    case(f"{op}_bcast_31_3d", fn, D(randn(3, 1)), D(randn(2, 3, 4)))
    case(f"{op}_bcast_scalar", fn, D(randn(2, 3, 4)), D(randn()))
    case(f"{op}_bcast_both", fn, D(randn(3, 1)), D(randn(1, 4)))
case("div_same", torch.div, D(randn(3, 4)), D(away(0.5, 3, 4)))
case("div_bcast_3d_31", torch.div, D(randn(2, 3, 4)), D(away(0.5, 3, 1)))
case("div_bcast_31_3d", torch.div, D(randn(3, 1)), D(away(0.5, 2, 3, 4)))
case("div_bcast_scalar", torch.div, D(randn(2, 3, 4)), D(away(0.5)))
case("div_bcast_scalar_num", torch.div, D(randn()), D(away(0.5, 2, 3)))
case("div_bcast_both", torch.div, D(randn(3, 1)), D(away(0.5, 1, 4)))
case("mul_self", lambda a: a * a, D(randn(2, 5)))
case("reuse_chain", lambda a, b: (a * b + a) / (b * b + 1.0), D(randn(3, 4)), D(randn(4)))
case("neg", torch.neg, D(randn(2, 3)))
case("scalar_add_right", lambda a: a + 2.5, D(randn(2, 3)))
case("scalar_add_left", lambda a: 2.5 + a, D(randn(2, 3)))
case("scalar_sub_right", lambda a: a - 1.25, D(randn(2, 3)))
case("scalar_sub_left", lambda a: 1.25 - a, D(randn(2, 3)))
case("scalar_mul_right", lambda a: a * -1.5, D(randn(2, 3)))
case("scalar_mul_left", lambda a: -1.5 * a, D(randn(2, 3)))
case("scalar_div_right", lambda a: a / 4.0, D(randn(2, 3)))
case("scalar_div_left", lambda a: 3.0 / a, D(away(0.5, 2, 3)))
case("op_tensor_tensor", lambda a, b: -(a + b) * (a - b) / b, D(randn(2, 3)), D(away(0.5, 2, 3)))

# pow
case("pow_scalar_2", lambda x: torch.pow(x, 2.0), D(randn(2, 3)))
case("pow_scalar_3", lambda x: torch.pow(x, 3.0), D(randn(2, 3)))
case("pow_scalar_0_5", lambda x: torch.pow(x, 0.5), D(uniform(0.3, 3.0, 2, 3)))
case("pow_scalar_m1", lambda x: torch.pow(x, -1.0), D(uniform(0.5, 2.0, 2, 3)))
case("pow_scalar_1_7", lambda x: torch.pow(x, 1.7), D(uniform(0.3, 2.0, 2, 3)))
case("pow_scalar_0", lambda x: torch.pow(x, 0.0), D(uniform(0.3, 2.0, 2, 3)))
case("pow_tensor", torch.pow, D(uniform(0.5, 2.0, 2, 3)), D(randn(2, 3)))
case("pow_tensor_bcast", torch.pow, D(uniform(0.5, 2.0, 2, 3)), D(randn(3)))

# pointwise functions
case("exp", torch.exp, D(uniform(-2.0, 2.0, 2, 3, 2)))
case("log", torch.log, D(uniform(0.2, 3.0, 2, 3, 2)))
case("sqrt", torch.sqrt, D(uniform(0.2, 3.0, 3, 4)))
case("abs", torch.abs, D(away(0.1, 3, 4)))
case("clamp_m0_5_0_7", lambda x: torch.clamp(x, -0.5, 0.7), D(avoiding(uniform(-1.5, 1.5, 4, 5), [-0.5, 0.7], 0.05)))
case("tanh", torch.tanh, D(uniform(-3.0, 3.0, 3, 4)))
case("sigmoid", torch.sigmoid, D(uniform(-4.0, 4.0, 3, 4)))
case("relu", torch.relu, D(away(0.1, 3, 4)))
case("clone", torch.clone, D(randn(2, 3)))

# selection
case("where_same", lambda c, a, b: torch.where(c != 0, a, b), N(mask01(3, 4)), D(randn(3, 4)), D(randn(3, 4)))
case("where_bcast", lambda c, a, b: torch.where(c != 0, a, b), N(mask01(3, 1)), D(randn(2, 3, 4)), D(randn()))
case("where_bcast_ab", lambda c, a, b: torch.where(c != 0, a, b), N(mask01(2, 3)), D(randn(2, 1)), D(randn(3)))
case("masked_fill_m1e9", lambda x, m: x.masked_fill(m != 0, -1e9), D(randn(3, 4)), N(mask01(1, 4)))
case("masked_fill_0_5", lambda x, m: x.masked_fill(m != 0, 0.5), D(randn(2, 3, 4)), N(mask01(2, 3, 4)))

# linear algebra (transpose_a / transpose_b: the operand is stored transposed)
case("matmul_2d", torch.matmul, D(randn(3, 4)), D(randn(4, 5)))
case("matmul_2d_ta", lambda a, b: a.t() @ b, D(randn(4, 3)), D(randn(4, 5)))
case("matmul_2d_tb", lambda a, b: a @ b.t(), D(randn(3, 4)), D(randn(5, 4)))
case("matmul_2d_ta_tb", lambda a, b: a.t() @ b.t(), D(randn(4, 3)), D(randn(5, 4)))
case("matmul_fold", torch.matmul, D(randn(2, 3, 4)), D(randn(4, 5)))
case("matmul_fold_tb", lambda a, b: a @ b.t(), D(randn(2, 3, 4)), D(randn(5, 4)))
case("matmul_fold_4d", torch.matmul, D(randn(2, 2, 3, 4)), D(randn(4, 2)))
case("matmul_batched", torch.matmul, D(randn(2, 3, 4)), D(randn(2, 4, 5)))
case("matmul_batched_ta", lambda a, b: a.transpose(-1, -2) @ b, D(randn(2, 4, 3)), D(randn(2, 4, 5)))
case("matmul_batched_tb", lambda a, b: a @ b.transpose(-1, -2), D(randn(2, 3, 4)), D(randn(2, 5, 4)))
case("matmul_batched_ta_tb", lambda a, b: a.transpose(-1, -2) @ b.transpose(-1, -2),
     D(randn(2, 4, 3)), D(randn(2, 5, 4)))
case("matmul_batched_4d", torch.matmul, D(randn(2, 2, 3, 4)), D(randn(2, 2, 4, 2)))
case("linear_bias", F.linear, D(randn(2, 3, 4)), D(randn(5, 4)), D(randn(5)))
case("linear_nobias", F.linear, D(randn(3, 4)), D(randn(5, 4)))

# shape
case("reshape_4_m1", lambda x: x.reshape(4, -1), D(randn(2, 3, 4)))
case("reshape_rank0_to_1", lambda x: x.reshape(1), D(randn()))
case("flatten_1_2", lambda x: torch.flatten(x, 1, 2), D(randn(2, 3, 4, 2)))
case("flatten_all", torch.flatten, D(randn(2, 3, 4)))
case("unsqueeze_m1", lambda x: x.unsqueeze(-1), D(randn(2, 3)))
case("unsqueeze_0", lambda x: x.unsqueeze(0), D(randn(2, 3)))
case("squeeze_1", lambda x: x.squeeze(1), D(randn(2, 1, 3)))
case("permute_2_0_1", lambda x: x.permute(2, 0, 1), D(randn(2, 3, 4)))
case("permute_4d", lambda x: x.permute(1, 3, 0, 2), D(randn(2, 3, 2, 4)))
case("transpose_0_m1", lambda x: x.transpose(0, -1), D(randn(2, 3, 4)))
case("transpose_2d", lambda x: x.t(), D(randn(3, 5)))
case("narrow_1_1_2", lambda x: x.narrow(1, 1, 2), D(randn(2, 4, 3)))
case("narrow_m1_0_2", lambda x: x.narrow(-1, 0, 2), D(randn(2, 4, 3)))
case("slice_1_m5_8_2", lambda x: x[:, -5:8:2], D(randn(3, 8)))
case("slice_1_m7_m1_3", lambda x: x[:, -7:-1:3], D(randn(3, 8)))
case("slice_0_1_100_1", lambda x: x[1:100], D(randn(3, 8)))
case("slice_1_m20_4_1", lambda x: x[:, -20:4], D(randn(3, 8)))
case("slice_m1_1_6_2", lambda x: x[..., 1:6:2], D(randn(2, 3, 7)))
case("concat_1", lambda a, b, c: torch.cat([a, b, c], 1), D(randn(2, 2, 3)), D(randn(2, 1, 3)), D(randn(2, 3, 3)))
case("concat_0", lambda a, b: torch.cat([a, b], 0), D(randn(2, 3)), D(randn(1, 3)))
case("concat_m1", lambda a, b: torch.cat([a, b], -1), D(randn(2, 3, 1)), D(randn(2, 3, 2)))
case("stack_0", lambda a, b, c: torch.stack([a, b, c], 0), D(randn(2, 3)), D(randn(2, 3)), D(randn(2, 3)))
case("stack_1", lambda a, b, c: torch.stack([a, b, c], 1), D(randn(2, 3)), D(randn(2, 3)), D(randn(2, 3)))
case("stack_m1", lambda a, b: torch.stack([a, b], -1), D(randn(2, 3)), D(randn(2, 3)))
case("split_size_2_axis1", lambda x: flat_cat(torch.split(x, 2, 1)), D(randn(2, 5, 3)))
case("split_sizes_1_3_1_axis0", lambda x: flat_cat(torch.split(x, [1, 3, 1], 0)), D(randn(5, 2)))
case("split_size_3_axism1", lambda x: flat_cat(torch.split(x, 3, -1)), D(randn(2, 7)))
case("chunk_3_axis1", lambda x: flat_cat(torch.chunk(x, 3, 1)), D(randn(2, 7)))
case("chunk_4_of_6_axis0", lambda x: flat_cat(torch.chunk(x, 4, 0)), D(randn(6, 2)))
case("chunk_2_axism1", lambda x: flat_cat(torch.chunk(x, 2, -1)), D(randn(3, 4)))
case("unbind_0", lambda x: flat_cat(torch.unbind(x, 0)), D(randn(3, 2, 2)))
case("unbind_1", lambda x: flat_cat(torch.unbind(x, 1)), D(randn(2, 3, 4)))
case("unbind_1_stack", lambda x: torch.stack(torch.unbind(x, 1)[::-1], 0), D(randn(2, 3, 4)))
case("flip_0", lambda x: torch.flip(x, [0]), D(randn(3, 4)))
case("flip_m1", lambda x: torch.flip(x, [-1]), D(randn(2, 3, 4)))
case("flip_1", lambda x: torch.flip(x, [1]), D(randn(2, 3, 4)))
case("expand_31_to_234", lambda x: x.expand(2, 3, 4), D(randn(3, 1)))
case("expand_1_to_22", lambda x: x.expand(2, 2), D(randn(1)))
case("expand_scalar_to_23", lambda x: x.expand(2, 3), D(randn()))
case("expand_same", lambda x: x.expand(2, 3), D(randn(2, 3)))

# indexing
case("index_select_1_dup", lambda x, i: torch.index_select(x, 1, L(i)), D(randn(3, 5)), N(ids([4, 0, 4, 2])))
case("index_select_0_3d", lambda x, i: torch.index_select(x, 0, L(i)), D(randn(3, 2, 2)), N(ids([2, 2, 0])))
case("index_select_m1", lambda x, i: torch.index_select(x, -1, L(i)), D(randn(2, 3, 4)), N(ids([3, 1])))
case("embedding_2d_dup", lambda w, i: F.embedding(L(i), w), D(randn(5, 3)), N(ids([[0, 2, 4], [2, 2, 1]])))
case("embedding_1d", lambda w, i: F.embedding(L(i), w), D(randn(4, 2)), N(ids([3, 0, 3])))
case("gather_1", lambda x, i: torch.gather(x, 1, L(i)), D(randn(2, 3, 4)),
     N(ids([[[0, 2, 1, 1], [2, 2, 0, 1]], [[1, 0, 0, 2], [0, 1, 2, 2]]])))
case("gather_0", lambda x, i: torch.gather(x, 0, L(i)), D(randn(3, 2)), N(ids([[2, 0], [2, 2], [0, 1], [1, 1]])))
case("gather_m1", lambda x, i: torch.gather(x, -1, L(i)), D(randn(3, 5)), N(ids([[4], [0], [4]])))

# reductions
case("sum_all", torch.sum, D(randn(2, 3, 4)))
case("sum_0_2", lambda x: torch.sum(x, [0, 2]), D(randn(2, 3, 4)))
case("sum_1_keepdim", lambda x: torch.sum(x, [1], keepdim=True), D(randn(2, 3, 4)))
case("sum_m1", lambda x: torch.sum(x, [-1]), D(randn(2, 3, 4)))
case("sum_0_m1_keepdim", lambda x: torch.sum(x, [0, -1], keepdim=True), D(randn(2, 3, 4)))
case("mean_all", torch.mean, D(randn(2, 3, 4)))
case("mean_0_2", lambda x: torch.mean(x, [0, 2]), D(randn(2, 3, 4)))
case("mean_1_keepdim", lambda x: torch.mean(x, [1], keepdim=True), D(randn(2, 3, 4)))
case("mean_m1", lambda x: torch.mean(x, [-1]), D(randn(3, 5)))
case("max_all", torch.max, D(distinct(3, 4)))
case("max_1", lambda x: torch.max(x, 1).values, D(distinct(2, 3, 4)))
case("max_0_keepdim", lambda x: torch.max(x, 0, keepdim=True).values, D(distinct(3, 4)))
case("max_m1", lambda x: torch.max(x, -1).values, D(distinct(2, 3, 4)))
case("argmax_1", lambda x: torch.argmax(x, 1).to(DT), N(distinct(3, 5)))
case("argmax_m1_keepdim", lambda x: torch.argmax(x, -1, keepdim=True).to(DT), N(distinct(2, 3, 4)))
case("log_softmax_1", lambda x: F.log_softmax(x, 1), D(randn(3, 5)))
case("log_softmax_m1_3d", lambda x: F.log_softmax(x, -1), D(randn(2, 3, 4)))
case("log_softmax_0_3d", lambda x: F.log_softmax(x, 0), D(randn(3, 2, 4)))
case("log_softmax_large", lambda x: F.log_softmax(x, 1), D(randn(2, 4) * 30.0))
case("softmax_1", lambda x: F.softmax(x, 1), D(randn(3, 5)))
case("softmax_m1_3d", lambda x: F.softmax(x, -1), D(randn(2, 3, 4)))
case("softmax_1_3d", lambda x: F.softmax(x, 1), D(randn(2, 3, 4)))

# losses
targets4 = ids([1, 0, 4, 2])
case("nll_loss_mean", lambda x, t: F.nll_loss(x, L(t)), D(randn(4, 5)), N(targets4))
case("nll_loss_sum", lambda x, t: F.nll_loss(x, L(t), reduction="sum"), D(randn(4, 5)), N(targets4))
case("nll_loss_none", lambda x, t: F.nll_loss(x, L(t), reduction="none"), D(randn(4, 5)), N(targets4))
case("nll_loss_mean_default_ignore", lambda x, t: F.nll_loss(x, L(t)), D(randn(4, 5)), N(ids([1, -100, 4, 2])))
case("nll_loss_mean_ignore2", lambda x, t: F.nll_loss(x, L(t), ignore_index=2), D(randn(5, 4)),
     N(ids([2, 0, 3, 2, 1])))
case("nll_loss_sum_ignore2", lambda x, t: F.nll_loss(x, L(t), ignore_index=2, reduction="sum"), D(randn(5, 4)),
     N(ids([2, 0, 3, 2, 1])))
case("nll_loss_none_ignore2", lambda x, t: F.nll_loss(x, L(t), ignore_index=2, reduction="none"), D(randn(5, 4)),
     N(ids([2, 0, 3, 2, 1])))
case("cross_entropy_mean", lambda x, t: F.cross_entropy(x, L(t)), D(randn(4, 5)), N(targets4))
case("cross_entropy_sum", lambda x, t: F.cross_entropy(x, L(t), reduction="sum"), D(randn(4, 5)), N(targets4))
case("cross_entropy_none", lambda x, t: F.cross_entropy(x, L(t), reduction="none"), D(randn(4, 5)), N(targets4))
case("cross_entropy_mean_ignore1", lambda x, t: F.cross_entropy(x, L(t), ignore_index=1), D(randn(5, 3)),
     N(ids([1, 0, 2, 1, 0])))
case("cross_entropy_none_ignore1", lambda x, t: F.cross_entropy(x, L(t), ignore_index=1, reduction="none"),
     D(randn(5, 3)), N(ids([1, 0, 2, 1, 0])))
case("cross_entropy_large_logits", lambda x, t: F.cross_entropy(x, L(t)), D(randn(3, 4) * 40.0), N(ids([0, 3, 1])))
case("mse_loss_mean", F.mse_loss, D(randn(3, 4)), N(randn(3, 4)))
case("mse_loss_sum", lambda a, b: F.mse_loss(a, b, reduction="sum"), D(randn(3, 4)), N(randn(3, 4)))
case("mse_loss_none", lambda a, b: F.mse_loss(a, b, reduction="none"), D(randn(2, 3, 2)), N(randn(2, 3, 2)))
case("mse_loss_mean_grad_target", F.mse_loss, D(randn(3, 4)), D(randn(3, 4)))
case("bce_logits_mean", F.binary_cross_entropy_with_logits, D(randn(3, 4) * 3.0), N(uniform(0.0, 1.0, 3, 4)))
case("bce_logits_sum", lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction="sum"),
     D(randn(3, 4) * 3.0), N(mask01(3, 4)))
case("bce_logits_none", lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction="none"),
     D(randn(2, 5) * 3.0), N(uniform(0.0, 1.0, 2, 5)))
case("bce_logits_large", F.binary_cross_entropy_with_logits, D(ids([[-30.0, -8.0, 0.5], [8.0, 30.0, -0.25]])),
     N(ids([[0.0, 1.0, 0.25], [1.0, 0.0, 0.75]])))
case("bce_logits_mean_grad_target", F.binary_cross_entropy_with_logits, D(randn(3, 4)),
     D(uniform(0.0, 1.0, 3, 4)))

# random ops that are deterministic: dropout in eval mode or with p = 0 is the identity
case("dropout_eval", lambda x: F.dropout(x, 0.5, training=False), D(randn(3, 4)))
case("dropout_p0_train", lambda x: F.dropout(x, 0.0, training=True), D(randn(3, 4)))


# ---- evaluation and output -----------------------------------------------------------------------------
def fmt_tensor(role, t):
    t = t.detach().to(DT).contiguous()
    dims = [str(d) for d in t.shape]
    vals = ["%.17g" % v for v in t.reshape(-1).tolist()]
    return " ".join(["tensor", role, str(len(dims))] + dims + [":"] + vals)


def run_case(name, inputs, fn):
    leaves = []
    for t, diff in inputs:
        leaf = t.clone().to(DT)
        if diff:
            leaf.requires_grad_(True)
        leaves.append(leaf)
    out = fn(*leaves)
    assert out.dtype == DT, (name, out.dtype)
    lines = [f"case {name}"]
    for i, leaf in enumerate(leaves):
        lines.append(fmt_tensor(f"in{i}", leaf))
    lines.append(fmt_tensor("out", out))
    if any(diff for _, diff in inputs):
        w = randn(*out.shape)
        lines.append(fmt_tensor("w", w))
        (out * w).sum().backward()
        for i, (leaf, (_, diff)) in enumerate(zip(leaves, inputs)):
            if diff:
                g = leaf.grad if leaf.grad is not None else torch.zeros_like(leaf)
                lines.append(fmt_tensor(f"grad{i}", g))
    lines.append("end")
    return lines


def main():
    header = [
        "# ops_reference.txt: PyTorch %s reference values for unroll's ops (generated by tests/gen_fixtures.py,"
        % torch.__version__,
        "# seed %d; do not edit by hand). Computed in float64 from float32-representable inputs." % SEED,
        "#",
        "# Format: 'case <name>' ... 'end' blocks of lines",
        "#   tensor <role> <rank> <dims...> : <values...>      (row-major, %.17g)",
        "# Roles: in<i> = op inputs (in the C++ lambda's order), out = output, w = upstream gradient (shape of",
        "# out), grad<i> = d sum(out * w) / d in<i>, present exactly for the differentiable inputs.",
        "# Op parameters (axes, exponents, reductions) are encoded in the case name and hard-coded in",
        "# tests/framework/test_ops_vs_torch.cpp.",
        "",
    ]
    body = []
    for name, inputs, fn in CASES:
        body.extend(run_case(name, inputs, fn))
    os.makedirs(os.path.dirname(OUT_PATH), exist_ok=True)
    with open(OUT_PATH, "w") as f:
        f.write("\n".join(header + body) + "\n")
    print("wrote %d cases to %s (%d bytes)" % (len(CASES), OUT_PATH, os.path.getsize(OUT_PATH)))


if __name__ == "__main__":
    main()
