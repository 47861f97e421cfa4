#!/usr/bin/python3
"""Generate PyTorch reference values for unroll's ops, read by the C++ tests through tests/support/fixtures.hpp:

  tests/fixtures/ops_reference.txt    every op in framework/ops.hpp: outputs and gradients, computed in
                                      float64 (tests/framework/test_ops_vs_torch.cpp runs each case in
                                      float32 and in float64)
  tests/fixtures/dtype_reference.txt  dtypes: the promotion table of add/sub/mul/div, comparisons and logical
                                      ops, int64/bool reductions, where/masked_fill, int64 elementwise ops,
                                      index ops, to() conversions, and the errors PyTorch raises
                                      (tests/framework/test_dtype_vs_torch.cpp)

Run from the repository root with the system interpreter (Debian's python3-torch):

    /usr/bin/python3 tests/gen_fixtures.py

The output is deterministic (fixed torch.manual_seed). ops_reference: every computation is done in
torch.float64; every floating input and upstream-gradient value is first rounded to float32, so unroll's
float32 run sees exactly the values torch saw, and its float64 run must agree to rounding.
dtype_reference: every case runs in the dtypes it names, as a PyTorch user would write it.
test_ops_vs_torch.cpp has one C++ lambda per ops_reference case name; test_dtype_vs_torch.cpp one per op
name (the part of a dtype_reference case name before "__"); keep them in sync.

File format (line based, UTF-8/ASCII):

    # comment                                 (blank lines and lines starting with '#' are ignored)
    case <name>                               starts a case; names are unique, no spaces
    tensor <role> <rank> <dims...> [<dtype>] : <values...>
                                              row-major values; a rank-0 tensor is "tensor <role> 0 : <value>"
    raises <message>                          torch raised this error (instead of an 'out' tensor)
    end                                       ends the case

<dtype> is bool, int64, float32 or float64. int64 and bool values are integers (bool: 0 or 1), floating
values are printed with %.17g (round-trips doubles; nan, inf, -inf). ops_reference.txt leaves the dtype of
floating tensors out (the test picks float32 or float64) and marks int64 indices / class targets and bool
conditions / masks; dtype_reference.txt gives every tensor's dtype, and that of 'out' is torch's result
dtype. Files written before the dtype token existed stay valid: no token means a floating tensor.

Roles in a case:
    in0, in1, ...   the op's tensor inputs, in the order the C++ lambda takes them
    num<i>          input i is a Python number (a C++ Scalar in unroll): a rank-0 line whose dtype says the
                    number's kind, int64 for an int, float64 for a float, bool for a bool
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
DTYPE_OUT_PATH = os.path.join(HERE, "fixtures", "dtype_reference.txt")

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
    """An index / class-id tensor: int64."""
    return torch.tensor(values, dtype=torch.long)


def vals(values):
    """Given floating values (float32-representable)."""
    return f32(torch.tensor(values, dtype=DT))


def mask(*shape):
    """A random bool condition / mask."""
    return torch.rand(tuple(shape), dtype=DT) < 0.5


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
case("where_same", torch.where, N(mask(3, 4)), D(randn(3, 4)), D(randn(3, 4)))
case("where_bcast", torch.where, N(mask(3, 1)), D(randn(2, 3, 4)), D(randn()))
case("where_bcast_ab", torch.where, N(mask(2, 3)), D(randn(2, 1)), D(randn(3)))
case("masked_fill_m1e9", lambda x, m: x.masked_fill(m, -1e9), D(randn(3, 4)), N(mask(1, 4)))
case("masked_fill_0_5", lambda x, m: x.masked_fill(m, 0.5), D(randn(2, 3, 4)), N(mask(2, 3, 4)))

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
case("index_select_1_dup", lambda x, i: torch.index_select(x, 1, i), D(randn(3, 5)), N(ids([4, 0, 4, 2])))
case("index_select_0_3d", lambda x, i: torch.index_select(x, 0, i), D(randn(3, 2, 2)), N(ids([2, 2, 0])))
case("index_select_m1", lambda x, i: torch.index_select(x, -1, i), D(randn(2, 3, 4)), N(ids([3, 1])))
case("embedding_2d_dup", lambda w, i: F.embedding(i, w), D(randn(5, 3)), N(ids([[0, 2, 4], [2, 2, 1]])))
case("embedding_1d", lambda w, i: F.embedding(i, w), D(randn(4, 2)), N(ids([3, 0, 3])))
case("gather_1", lambda x, i: torch.gather(x, 1, i), D(randn(2, 3, 4)),
     N(ids([[[0, 2, 1, 1], [2, 2, 0, 1]], [[1, 0, 0, 2], [0, 1, 2, 2]]])))
case("gather_0", lambda x, i: torch.gather(x, 0, i), D(randn(3, 2)), N(ids([[2, 0], [2, 2], [0, 1], [1, 1]])))
case("gather_m1", lambda x, i: torch.gather(x, -1, i), D(randn(3, 5)), N(ids([[4], [0], [4]])))

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
case("argmax_1", lambda x: torch.argmax(x, 1), N(distinct(3, 5)))
case("argmax_m1_keepdim", lambda x: torch.argmax(x, -1, keepdim=True), N(distinct(2, 3, 4)))
case("log_softmax_1", lambda x: F.log_softmax(x, 1), D(randn(3, 5)))
case("log_softmax_m1_3d", lambda x: F.log_softmax(x, -1), D(randn(2, 3, 4)))
case("log_softmax_0_3d", lambda x: F.log_softmax(x, 0), D(randn(3, 2, 4)))
case("log_softmax_large", lambda x: F.log_softmax(x, 1), D(randn(2, 4) * 30.0))
case("softmax_1", lambda x: F.softmax(x, 1), D(randn(3, 5)))
case("softmax_m1_3d", lambda x: F.softmax(x, -1), D(randn(2, 3, 4)))
case("softmax_1_3d", lambda x: F.softmax(x, 1), D(randn(2, 3, 4)))

# losses
targets4 = ids([1, 0, 4, 2])
case("nll_loss_mean", lambda x, t: F.nll_loss(x, t), D(randn(4, 5)), N(targets4))
case("nll_loss_sum", lambda x, t: F.nll_loss(x, t, reduction="sum"), D(randn(4, 5)), N(targets4))
case("nll_loss_none", lambda x, t: F.nll_loss(x, t, reduction="none"), D(randn(4, 5)), N(targets4))
case("nll_loss_mean_default_ignore", lambda x, t: F.nll_loss(x, t), D(randn(4, 5)), N(ids([1, -100, 4, 2])))
case("nll_loss_mean_ignore2", lambda x, t: F.nll_loss(x, t, ignore_index=2), D(randn(5, 4)),
     N(ids([2, 0, 3, 2, 1])))
case("nll_loss_sum_ignore2", lambda x, t: F.nll_loss(x, t, ignore_index=2, reduction="sum"), D(randn(5, 4)),
     N(ids([2, 0, 3, 2, 1])))
case("nll_loss_none_ignore2", lambda x, t: F.nll_loss(x, t, ignore_index=2, reduction="none"), D(randn(5, 4)),
     N(ids([2, 0, 3, 2, 1])))
case("cross_entropy_mean", lambda x, t: F.cross_entropy(x, t), D(randn(4, 5)), N(targets4))
case("cross_entropy_sum", lambda x, t: F.cross_entropy(x, t, reduction="sum"), D(randn(4, 5)), N(targets4))
case("cross_entropy_none", lambda x, t: F.cross_entropy(x, t, reduction="none"), D(randn(4, 5)), N(targets4))
case("cross_entropy_mean_ignore1", lambda x, t: F.cross_entropy(x, t, ignore_index=1), D(randn(5, 3)),
     N(ids([1, 0, 2, 1, 0])))
case("cross_entropy_none_ignore1", lambda x, t: F.cross_entropy(x, t, ignore_index=1, reduction="none"),
     D(randn(5, 3)), N(ids([1, 0, 2, 1, 0])))
case("cross_entropy_large_logits", lambda x, t: F.cross_entropy(x, t), D(randn(3, 4) * 40.0), N(ids([0, 3, 1])))
case("mse_loss_mean", F.mse_loss, D(randn(3, 4)), N(randn(3, 4)))
case("mse_loss_sum", lambda a, b: F.mse_loss(a, b, reduction="sum"), D(randn(3, 4)), N(randn(3, 4)))
case("mse_loss_none", lambda a, b: F.mse_loss(a, b, reduction="none"), D(randn(2, 3, 2)), N(randn(2, 3, 2)))
case("mse_loss_mean_grad_target", F.mse_loss, D(randn(3, 4)), D(randn(3, 4)))
case("bce_logits_mean", F.binary_cross_entropy_with_logits, D(randn(3, 4) * 3.0), N(uniform(0.0, 1.0, 3, 4)))
case("bce_logits_sum", lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction="sum"),
     D(randn(3, 4) * 3.0), N(mask(3, 4).to(DT)))
case("bce_logits_none", lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction="none"),
     D(randn(2, 5) * 3.0), N(uniform(0.0, 1.0, 2, 5)))
case("bce_logits_large", F.binary_cross_entropy_with_logits, D(vals([[-30.0, -8.0, 0.5], [8.0, 30.0, -0.25]])),
     N(vals([[0.0, 1.0, 0.25], [1.0, 0.0, 0.75]])))
case("bce_logits_mean_grad_target", F.binary_cross_entropy_with_logits, D(randn(3, 4)),
     D(uniform(0.0, 1.0, 3, 4)))

# random ops that are deterministic: dropout in eval mode or with p = 0 is the identity
case("dropout_eval", lambda x: F.dropout(x, 0.5, training=False), D(randn(3, 4)))
case("dropout_p0_train", lambda x: F.dropout(x, 0.0, training=True), D(randn(3, 4)))


# ---- ops of issue [Ops] item 1 -------------------------------------------------------------------------
# extrema along an axis return (values, indices): one case checks the values (and their gradient), another
# the int64 indices; over all elements, ties split the gradient evenly
case("min_all", torch.min, D(distinct(3, 4)))
case("min_1", lambda x: torch.min(x, 1).values, D(distinct(2, 3, 4)))
case("min_0_keepdim", lambda x: torch.min(x, 0, keepdim=True).values, D(distinct(3, 4)))
case("min_1_indices", lambda x: torch.min(x, 1).indices, N(distinct(2, 3, 4)))
case("max_m1_indices", lambda x: torch.max(x, -1).indices, N(distinct(2, 3, 4)))
case("max_all_ties", torch.max, D(vals([[1.0, 3.0, -2.0], [3.0, 0.5, 3.0]])))
case("min_all_ties", torch.min, D(vals([[-1.0, 3.0, -2.0], [-2.0, 0.5, 3.0]])))
case("argmin_1", lambda x: torch.argmin(x, 1), N(distinct(3, 5)))
case("argmin_m1_keepdim", lambda x: torch.argmin(x, -1, keepdim=True), N(distinct(2, 3, 4)))
case("maximum_same", torch.maximum, D(distinct(3, 4)), D(distinct(3, 4)))
case("maximum_bcast", torch.maximum, D(distinct(2, 3, 1)), D(distinct(3, 4)))
case("maximum_ties", torch.maximum, D(vals([[1.0, 2.0], [3.0, -4.0]])), D(vals([[1.0, 0.0], [3.0, 5.0]])))
case("minimum_same", torch.minimum, D(distinct(3, 4)), D(distinct(3, 4)))
case("minimum_bcast", torch.minimum, D(distinct(4)), D(distinct(2, 3, 4)))
case("minimum_ties", torch.minimum, D(vals([[1.0, 2.0], [3.0, -4.0]])), D(vals([[1.0, 0.0], [3.0, 5.0]])))

# sorting
case("sort_m1", lambda x: torch.sort(x, -1).values, D(distinct(3, 5)))
case("sort_m1_indices", lambda x: torch.sort(x, -1).indices, N(distinct(3, 5)))
case("sort_0_desc", lambda x: torch.sort(x, 0, descending=True).values, D(distinct(4, 2, 3)))
case("sort_0_desc_indices", lambda x: torch.sort(x, 0, descending=True).indices, N(distinct(4, 2, 3)))
case("argsort_1", lambda x: torch.argsort(x, 1), N(distinct(2, 5, 3)))
case("argsort_m1_desc", lambda x: torch.argsort(x, -1, descending=True), N(distinct(3, 4)))
case("topk_2_m1", lambda x: torch.topk(x, 2, -1).values, D(distinct(3, 5)))
case("topk_2_m1_indices", lambda x: torch.topk(x, 2, -1).indices, N(distinct(3, 5)))
case("topk_3_0_smallest", lambda x: torch.topk(x, 3, 0, largest=False).values, D(distinct(4, 2, 3)))
case("topk_3_0_smallest_indices", lambda x: torch.topk(x, 3, 0, largest=False).indices, N(distinct(4, 2, 3)))

# cumsum, logsumexp, var, std, norm
case("cumsum_0", lambda x: torch.cumsum(x, 0), D(randn(4, 3)))
case("cumsum_m1", lambda x: torch.cumsum(x, -1), D(randn(2, 5)))
case("cumsum_1_3d", lambda x: torch.cumsum(x, 1), D(randn(2, 3, 4)))
case("logsumexp_1", lambda x: torch.logsumexp(x, 1), D(randn(3, 5)))
case("logsumexp_0_2_keepdim", lambda x: torch.logsumexp(x, [0, 2], keepdim=True), D(randn(2, 3, 4)))
case("logsumexp_all", lambda x: torch.logsumexp(x, [0, 1]), D(randn(3, 4)))
case("logsumexp_large", lambda x: torch.logsumexp(x, 1), D(randn(2, 4) * 300.0))
case("var_all", torch.var, D(randn(3, 4)))
case("var_1", lambda x: torch.var(x, 1), D(randn(3, 5)))
case("var_0_2_keepdim", lambda x: torch.var(x, [0, 2], keepdim=True), D(randn(2, 3, 4)))
case("var_1_biased", lambda x: torch.var(x, 1, unbiased=False), D(randn(3, 5)))
case("std_all", torch.std, D(randn(3, 4)))
case("std_1", lambda x: torch.std(x, 1), D(randn(3, 5)))
case("std_0_keepdim_biased", lambda x: torch.std(x, 0, unbiased=False, keepdim=True), D(randn(4, 3)))
case("std_1_constant_row", lambda x: torch.std(x, 1), D(vals([[1.5, 1.5, 1.5], [0.5, 2.0, -1.0]])))
case("norm_2_all", torch.norm, D(randn(3, 4)))
case("norm_1_all", lambda x: torch.norm(x, 1), D(away(0.1, 3, 4)))
case("norm_inf_all", lambda x: torch.norm(x, float("inf")), D(distinct(3, 4)))
case("norm_2_1", lambda x: torch.norm(x, 2, dim=1), D(randn(3, 5)))
case("norm_1_0_keepdim", lambda x: torch.norm(x, 1, dim=0, keepdim=True), D(away(0.1, 4, 3)))
case("norm_inf_m1", lambda x: torch.norm(x, float("inf"), dim=-1), D(distinct(2, 3, 4)))
case("norm_2_0_2", lambda x: torch.norm(x, 2, dim=[0, 2]), D(randn(2, 3, 4)))
case("norm_2_zero_row", lambda x: torch.norm(x, 2, dim=1), D(vals([[0.0, 0.0, 0.0], [1.0, 2.0, -2.0]])))
case("norm_inf_ties", lambda x: torch.norm(x, float("inf"), dim=1), D(vals([[1.0, -3.0, 3.0], [2.0, 0.5, -2.0]])))

# one_hot, repeat, pad
case("one_hot_4", lambda i: F.one_hot(i, 4), N(ids([[0, 3], [2, 2]])))
case("one_hot_infer", lambda i: F.one_hot(i), N(ids([1, 0, 4])))
case("repeat_2_1_3", lambda x: x.repeat(2, 1, 3), D(randn(2, 3, 2)))
case("repeat_lead", lambda x: x.repeat(2, 3, 1), D(randn(2, 3)))
case("repeat_1d", lambda x: x.repeat(3), D(randn(4)))
case("pad_1_2", lambda x: F.pad(x, (1, 2)), D(randn(2, 3)))
case("pad_2d_value", lambda x: F.pad(x, (1, 0, 2, 1), value=0.5), D(randn(2, 3, 2)))
case("pad_negative", lambda x: F.pad(x, (-1, 2, 1, -1)), D(randn(3, 4)))

# scatter (no duplicate positions: which write wins is unspecified), scatter_add (duplicates add), index_add.
# src has index's shape: torch 1.13's scatter backward fails for a larger src (unroll's gives it zeros there)
case("scatter_1", lambda x, i, s: torch.scatter(x, 1, i, s), D(randn(2, 4)), N(ids([[3, 0], [1, 2]])),
     D(randn(2, 2)))
case("scatter_0_3d", lambda x, i, s: torch.scatter(x, 0, i, s), D(randn(3, 2, 2)),
     N(ids([[[2, 0], [1, 1]], [[0, 2], [2, 0]]])), D(randn(2, 2, 2)))
case("scatter_value_m1", lambda x, i: torch.scatter(x, -1, i, -0.75), D(randn(3, 4)), N(ids([[1], [3], [0]])))
case("scatter_add_1_dup", lambda x, i, s: torch.scatter_add(x, 1, i, s), D(randn(2, 4)),
     N(ids([[3, 3, 0], [1, 1, 1]])), D(randn(2, 3)))
case("scatter_add_0", lambda x, i, s: torch.scatter_add(x, 0, i, s), D(randn(3, 2)), N(ids([[2, 0], [2, 2]])),
     D(randn(2, 2)))
case("index_add_0_dup", lambda x, i, s: torch.index_add(x, 0, i, s), D(randn(4, 3)), N(ids([3, 0, 3])),
     D(randn(3, 3)))
case("index_add_1_alpha", lambda x, i, s: torch.index_add(x, 1, i, s, alpha=-2.5), D(randn(2, 4, 2)),
     N(ids([1, 2])), D(randn(2, 2, 2)))

# einsum: contractions (one matmul each), diagonals, sums, implicit outputs, ellipsis, broadcasting
case("einsum_matmul", lambda a, b: torch.einsum("ij,jk->ik", a, b), D(randn(3, 4)), D(randn(4, 5)))
case("einsum_batched", lambda a, b: torch.einsum("bij,bjk->bik", a, b), D(randn(2, 3, 4)), D(randn(2, 4, 5)))
case("einsum_implicit", lambda a, b: torch.einsum("ij,jk", a, b), D(randn(3, 4)), D(randn(4, 2)))
case("einsum_transposed", lambda a, b: torch.einsum("ji,kj->ik", a, b), D(randn(4, 3)), D(randn(5, 4)))
case("einsum_bilinear", lambda a, w, b: torch.einsum("bn,anm,bm->ba", a, w, b), D(randn(2, 3)), D(randn(4, 3, 5)),
     D(randn(2, 5)))
case("einsum_outer", lambda a, b: torch.einsum("i,j->ij", a, b), D(randn(3)), D(randn(4)))
case("einsum_dot", lambda a, b: torch.einsum("i,i->", a, b), D(randn(5)), D(randn(5)))
case("einsum_hadamard", lambda a, b: torch.einsum("ij,ij->ij", a, b), D(randn(2, 3)), D(randn(2, 3)))
case("einsum_rowdot", lambda a, b: torch.einsum("bi,bi->b", a, b), D(randn(3, 4)), D(randn(3, 4)))
case("einsum_transpose", lambda a: torch.einsum("ij->ji", a), D(randn(2, 3)))
case("einsum_sum", lambda a: torch.einsum("ijk->j", a), D(randn(2, 3, 4)))
case("einsum_trace", lambda a: torch.einsum("ii", a), D(randn(3, 3)))
case("einsum_diag", lambda a: torch.einsum("ii->i", a), D(randn(4, 4)))
case("einsum_diag_3d", lambda a: torch.einsum("iji->ji", a), D(randn(3, 2, 3)))
case("einsum_ellipsis", lambda a, b: torch.einsum("...ij,...jk->...ik", a, b), D(randn(2, 3, 4)), D(randn(4, 2)))
case("einsum_ellipsis_sum", lambda a: torch.einsum("...ij->...", a), D(randn(2, 3, 4)))
case("einsum_broadcast", lambda a, b: torch.einsum("bij,bjk->bik", a, b), D(randn(1, 2, 3)), D(randn(4, 3, 2)))
case("einsum_heads", lambda q, k: torch.einsum("nhld,nhsd->nhls", q, k), D(randn(2, 2, 3, 4)), D(randn(2, 2, 5, 4)))
case("einsum_upper", lambda a, b: torch.einsum("bA,ab", a, b), D(randn(2, 3)), D(randn(3, 2)))

# pointwise functions and activations
case("log1p", torch.log1p, D(uniform(-0.5, 3.0, 3, 4)))
case("expm1", torch.expm1, D(uniform(-2.0, 2.0, 3, 4)))
case("sin", torch.sin, D(uniform(-4.0, 4.0, 3, 4)))
case("cos", torch.cos, D(uniform(-4.0, 4.0, 3, 4)))
case("sign", torch.sign, D(away(0.1, 3, 4)))
case("floor", torch.floor, D(avoiding(uniform(-3.0, 3.0, 3, 4), [-2, -1, 0, 1, 2], 0.05)))
case("ceil", torch.ceil, D(avoiding(uniform(-3.0, 3.0, 3, 4), [-2, -1, 0, 1, 2], 0.05)))
case("round", torch.round, D(vals([[0.5, 1.5, 2.5, -0.5], [-1.5, 0.49, -2.51, 3.7]])))
case("softplus", F.softplus, D(uniform(-5.0, 5.0, 3, 4)))
case("softplus_beta2_threshold5", lambda x: F.softplus(x, beta=2.0, threshold=5.0), D(uniform(-4.0, 4.0, 3, 4)))
case("gelu", F.gelu, D(uniform(-4.0, 4.0, 3, 4)))
case("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), D(uniform(-4.0, 4.0, 3, 4)))
case("elu", F.elu, D(away(0.05, 3, 4)))
case("elu_alpha_0_5", lambda x: F.elu(x, alpha=0.5), D(away(0.05, 3, 4)))
case("leaky_relu", F.leaky_relu, D(away(0.05, 3, 4)))
case("leaky_relu_0_2", lambda x: F.leaky_relu(x, 0.2), D(away(0.05, 3, 4)))
case("silu", F.silu, D(uniform(-4.0, 4.0, 3, 4)))

# layer_norm
case("layer_norm_affine", lambda x, w, b: F.layer_norm(x, (4,), w, b), D(randn(2, 3, 4)), D(randn(4)), D(randn(4)))
case("layer_norm_2d", lambda x, w, b: F.layer_norm(x, (3, 4), w, b, eps=1e-3), D(randn(2, 3, 4)), D(randn(3, 4)),
     D(randn(3, 4)))
case("layer_norm_plain", lambda x: F.layer_norm(x, (5,)), D(f32(randn(3, 5) * 4.0 + 2.0)))


# scaled_dot_product_attention: torch 1.13 has it as torch._C._nn._scaled_dot_product_attention (a bool mask:
# true = take part); the reference is written out, and checked against it where it applies
def sdpa(q, k, v, mask=None, causal=False):
    scores = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
    if causal:
        mask = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).tril()
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
    out = torch.softmax(scores, -1) @ v
    if mask is None or mask.dtype == torch.bool:
        torch_out = torch._C._nn._scaled_dot_product_attention(q, k, v, None if causal else mask, 0.0, False, causal)[0]
        assert (torch_out - out).abs().max() < 1e-12
    return out


ATT_MASK = torch.tensor([[True, False, True, True, False], [True, True, False, False, True],
                         [False, False, False, True, True]])
case("sdpa_2d", sdpa, D(randn(3, 4)), D(randn(5, 4)), D(randn(5, 2)))
case("sdpa_batched", sdpa, D(randn(2, 3, 4)), D(randn(2, 5, 4)), D(randn(2, 5, 6)))
case("sdpa_heads", sdpa, D(randn(2, 2, 3, 4)), D(randn(2, 2, 5, 4)), D(randn(2, 2, 5, 3)))
case("sdpa_bool_mask", sdpa, D(randn(2, 3, 4)), D(randn(2, 5, 4)), D(randn(2, 5, 2)), N(ATT_MASK))
case("sdpa_float_mask", sdpa, D(randn(2, 3, 4)), D(randn(2, 5, 4)), D(randn(2, 5, 2)), D(randn(3, 5)))
case("sdpa_causal", lambda q, k, v: sdpa(q, k, v, causal=True), D(randn(2, 4, 3)), D(randn(2, 4, 3)),
     D(randn(2, 4, 5)))
# addmm (beta = alpha = 1): input broadcast to the product. Last of the cases, with inputs from their own
# generator, so that adding them changed no earlier case's values.
_addmm_gen = torch.Generator().manual_seed(20261202)


def randn_addmm(*shape):
    return f32(torch.randn(tuple(shape), dtype=DT, generator=_addmm_gen))


case("addmm_full", torch.addmm, D(randn_addmm(3, 5)), D(randn_addmm(3, 4)), D(randn_addmm(4, 5)))
case("addmm_bias", torch.addmm, D(randn_addmm(5)), D(randn_addmm(3, 4)), D(randn_addmm(4, 5)))
case("addmm_column", torch.addmm, D(randn_addmm(3, 1)), D(randn_addmm(3, 4)), D(randn_addmm(4, 5)))
case("addmm_tb", lambda c, a, b: torch.addmm(c, a, b.t()), D(randn_addmm(3, 5)), D(randn_addmm(3, 4)),
     D(randn_addmm(5, 4)))
case("addmm_ta_tb", lambda c, a, b: torch.addmm(c, a.t(), b.t()), D(randn_addmm(1, 5)), D(randn_addmm(4, 3)),
     D(randn_addmm(5, 4)))
case("addmm_fold_tb", lambda c, a, b: c + a @ b.t(), D(randn_addmm(5)), D(randn_addmm(2, 3, 4)), D(randn_addmm(5, 4)))

# ---- dtype cases (dtype_reference.txt) ---------------------------------------------------------------
# Each case is named "<op>__<operands>": <op> picks the C++ lambda of test_dtype_vs_torch.cpp, <operands>
# spells the operands' kinds: b, i, f, d = a bool, int64, float32, float64 tensor with dimensions, a trailing
# 0 = the same as a rank-0 tensor, num_int / num_float / num_bool = a Python number; then maybe a tag.
B, I64, F32, F64 = torch.bool, torch.int64, torch.float32, torch.float64
DTYPES = [B, I64, F32, F64]
SHORT = {B: "b", I64: "i", F32: "f", F64: "d"}
NAN, INF = float("nan"), float("inf")
INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1


class Num:
    """A Python number operand: a C++ Scalar on unroll's side."""

    def __init__(self, value):
        self.value = value


def T(values, dtype):
    return torch.tensor(values, dtype=dtype)


def describe(x):
    if isinstance(x, Num):
        return "num_" + ("bool" if isinstance(x.value, bool) else "int" if isinstance(x.value, int) else "float")
    return SHORT[x.dtype] + ("0" if x.dim() == 0 else "")


DCASES = []  # (name, [operands], fn)


def dcase(op, fn, *operands, tag=None):
    name = op + "__" + "_".join(describe(x) for x in operands) + ("_" + tag if tag else "")
    assert all(c[0] != name for c in DCASES), name
    DCASES.append((name, list(operands), fn))


# the promotion table: add/sub/mul/div for every pair of dtypes, as tensors with dims, rank-0 tensors and
# Python numbers (either side). Divisors include 0 and False (inf and nan), floats include values
# float32 cannot hold (0.1, 1/3: a float64 result must keep them).
ARITH = {B: T([True, False, True, True], B), I64: T([-3, 0, 2, 7], I64), F32: T([-1.5, 0.25, 2.0, 3.75], F32),
         F64: T([0.1, -2.5, 1 / 3, 4.0], F64)}
ARITH0 = {B: T(True, B), I64: T(5, I64), F32: T(0.5, F32), F64: T(1 / 3, F64)}
NUMBERS = [Num(3), Num(0.3), Num(True)]
for op, fn in [("add", lambda a, b: a + b), ("sub", lambda a, b: a - b), ("mul", lambda a, b: a * b),
               ("div", lambda a, b: a / b)]:
    for da in DTYPES:
        for db in DTYPES:
            dcase(op, fn, ARITH[da], ARITH[db])
            dcase(op, fn, ARITH[da], ARITH0[db])
            dcase(op, fn, ARITH0[da], ARITH[db])
            dcase(op, fn, ARITH0[da], ARITH0[db])
        for n in NUMBERS:
            dcase(op, fn, ARITH[da], n)
            dcase(op, fn, n, ARITH[da])
            dcase(op, fn, ARITH0[da], n)

# comparisons over every pair of dtypes (NaN compares false, != true), with rank-0 tensors and numbers on
# the right; then the cases where the common dtype decides the answer
CMP = {B: T([True, False, True, False], B), I64: T([1, 0, 2, -3], I64), F32: T([1.0, NAN, 2.0, 2.5], F32),
       F64: T([1.0, 0.0, 2.0, NAN], F64)}
CMP0 = {B: T(True, B), I64: T(2, I64), F32: T(2.0, F32), F64: T(NAN, F64)}
CMP_NUMBERS = [Num(2), Num(1.5), Num(True)]
COMPARISONS = [("eq", lambda a, b: a == b), ("ne", lambda a, b: a != b), ("lt", lambda a, b: a < b),
               ("le", lambda a, b: a <= b), ("gt", lambda a, b: a > b), ("ge", lambda a, b: a >= b)]
for op, fn in COMPARISONS:
    for da in DTYPES:
        for db in DTYPES:
            dcase(op, fn, CMP[da], CMP[db])
            dcase(op, fn, CMP[da], CMP0[db])
        for n in CMP_NUMBERS:
            dcase(op, fn, CMP[da], n)
    dcase(op, fn, T([0.1], F32), T([0.1], F64), tag="point1")      # compared in float64: unequal
    dcase(op, fn, T([0.1], F32), T(0.1, F64), tag="point1")        # rank 0 does not widen: equal
    dcase(op, fn, T([0.1], F32), Num(0.1), tag="point1")           # a number does not widen: equal
    dcase(op, fn, T(0.1, F32), T(0.1, F64), tag="point1")          # two rank-0 tensors: float64
    dcase(op, fn, T([2 ** 24 + 1], I64), T([2.0 ** 24], F32), tag="2pow24")  # int64 rounds to float32
    dcase(op, fn, T([2 ** 53 + 1], I64), T([2.0 ** 53], F64), tag="2pow53")  # ... and to float64
    dcase(op, fn, T([2 ** 53 + 1], I64), T([2 ** 53], I64), tag="2pow53")    # exact in int64
    dcase(op, fn, T([1.0, NAN], F32), Num(NAN), tag="nan")

# logical ops over every pair of dtypes (nonzero and NaN are true)
for op, fn in [("logical_and", torch.logical_and), ("logical_or", torch.logical_or), ("logical_xor", torch.logical_xor)]:
    for da in DTYPES:
        for db in DTYPES:
            dcase(op, fn, CMP[da], CMP[db])
        dcase(op, fn, CMP[da], CMP0[I64])
for da in DTYPES:
    dcase("logical_not", torch.logical_not, CMP[da])
    dcase("logical_not", torch.logical_not, CMP0[da])

# reductions: sums of bool and int64 are int64 (exact beyond 2^53), max keeps the dtype (NaN wins), argmax
# is int64 (the first maximum; NaN counts as the maximum), mean refuses integers
RED = {B: T([[True, False, True], [False, False, False]], B), I64: T([[2 ** 60, -5, 7], [1, 7, 7]], I64),
       F32: T([[0.5, NAN, -2.0], [1.25, 3.0, 3.0]], F32), F64: T([[0.1, 0.2, 0.3], [-1.0, 2.0, 2.0]], F64)}
for d in DTYPES:
    dcase("sum_all", torch.sum, RED[d])
    dcase("sum_0", lambda x: torch.sum(x, [0]), RED[d])
    dcase("sum_1_keepdim", lambda x: torch.sum(x, [1], keepdim=True), RED[d])
    dcase("max_all", torch.max, RED[d])
    dcase("max_1", lambda x: torch.max(x, 1).values, RED[d])
    dcase("max_0_keepdim", lambda x: torch.max(x, 0, keepdim=True).values, RED[d])
    dcase("argmax_1", lambda x: torch.argmax(x, 1), RED[d])
    dcase("mean_all", torch.mean, RED[d])
    dcase("mean_1", lambda x: torch.mean(x, [1]), RED[d])
dcase("sum_all", torch.sum, T([INT64_MAX, 1], I64), tag="wraps")

# where and masked_fill: a bool condition / mask, values of every dtype (promoted) or numbers
COND = T([True, False, False, True], B)
SEL = {B: T([False, True, True, False], B), I64: T([-4, 5, 6, 7], I64), F32: T([0.5, -1.5, 2.25, 8.0], F32),
       F64: T([0.1, 1 / 3, -2.0, 9.0], F64)}
for da in DTYPES:
    for db in DTYPES:
        dcase("where", torch.where, COND, SEL[da], SEL[db])
dcase("where", torch.where, COND, SEL[I64], Num(2.5))
dcase("where", torch.where, COND, SEL[I64], Num(2))
dcase("where", torch.where, COND, SEL[B], Num(True))
dcase("where", torch.where, COND, Num(2), SEL[F64])
dcase("where", torch.where, COND, Num(0.1), SEL[F32])
dcase("where", torch.where, COND, SEL[F32], T(0.1, F64))
dcase("where", torch.where, COND, T(3, I64), T(0.5, F32))
dcase("where", torch.where, COND, T(True, B), SEL[I64])
dcase("where", torch.where, SEL[I64], SEL[F32], SEL[F32])  # the condition must be bool
dcase("where", torch.where, SEL[F32], SEL[F32], SEL[F32])
for d in DTYPES:
    for n in [Num(7), Num(2.7), Num(True)]:
        dcase("masked_fill", lambda x, m, v: x.masked_fill(m, v), SEL[d], COND, n)
# (masked_fill with an int64 or float mask is not here: torch 1.13 still takes 0/1 masks of other dtypes,
# with a deprecation warning; unroll refuses them, see test_elementwise.cpp)

# int64 (and bool) elementwise ops: exact, wrapping at the ends of int64's range; the transcendental ones
# compute in the default dtype
EXTREME = T([-3, 0, 2, 7, INT64_MIN, INT64_MAX], I64)
SMALL = T([-3, 0, 2, 7], I64)
BOOLS = T([True, False, True, True], B)
for op, fn in [("abs", torch.abs), ("neg", torch.neg), ("relu", torch.relu)]:
    dcase(op, fn, EXTREME)
    dcase(op, fn, BOOLS)
    dcase(op, fn, ARITH[F32])
    dcase(op, fn, ARITH[F64])
for op, fn in [("exp", torch.exp), ("log", torch.log), ("sqrt", torch.sqrt), ("tanh", torch.tanh),
               ("sigmoid", torch.sigmoid)]:
    dcase(op, fn, SMALL)
    dcase(op, fn, BOOLS)
for x, lo, hi in [(SMALL, Num(-1), Num(3)), (SMALL, Num(-0.5), Num(2.5)), (BOOLS, Num(0), Num(1)),
                  (BOOLS, Num(0.5), Num(1.0)), (ARITH[F32], Num(-1), Num(1)), (ARITH[F64], Num(0), Num(0.2)),
                  (SMALL, Num(False), Num(True))]:
    dcase("clamp", torch.clamp, x, lo, hi, tag=str(lo.value).replace(".", "_").replace("-", "m"))
for x, e in [(SMALL, Num(2)), (SMALL, Num(0)), (SMALL, Num(3)), (SMALL, Num(0.5)), (SMALL, Num(-1)), (BOOLS, Num(2)),
             (BOOLS, Num(0.5)), (SMALL, Num(True)), (ARITH[F32], Num(2)), (ARITH[F64], Num(0.5))]:
    dcase("pow", torch.pow, x, e, tag=str(e.value).replace(".", "_").replace("-", "m"))

# index ops: int64 indices into tensors of every dtype; other index dtypes are refused
IDX_X = {B: T([[True, False, True], [False, True, True]], B), I64: T([[1, -2, 3], [4, 5, -6]], I64),
         F32: T([[0.5, -1.5, 2.25], [3.0, 0.125, -8.0]], F32), F64: T([[0.1, 0.2, 1 / 3], [4.0, -5.0, 6.5]], F64)}
for d in DTYPES:
    dcase("index_select_1", lambda x, i: torch.index_select(x, 1, i), IDX_X[d], T([2, 0, 2], I64))
    dcase("index_select_0", lambda x, i: torch.index_select(x, 0, i), IDX_X[d], T([1, 1, 0], I64))
    dcase("gather_1", lambda x, i: torch.gather(x, 1, i), IDX_X[d], T([[2, 0], [1, 1]], I64))
for d in [I64, F32, F64]:
    dcase("embedding", lambda w, i: F.embedding(i, w), IDX_X[d], T([[1, 0], [1, 1]], I64))
dcase("index_select_1", lambda x, i: torch.index_select(x, 1, i), IDX_X[F32], T([2.0, 0.0], F32))
dcase("index_select_1", lambda x, i: torch.index_select(x, 1, i), IDX_X[F32], T([True, False], B))
dcase("gather_1", lambda x, i: torch.gather(x, 1, i), IDX_X[F32], T([[2.0], [0.0]], F32))
dcase("embedding", lambda w, i: F.embedding(i, w), IDX_X[F32], T([1.0, 0.0], F32))
LOGITS = T([[0.5, -1.0, 2.0], [0.0, 1.5, -0.5]], F32)
dcase("nll_loss", F.nll_loss, LOGITS, T([2, 0], I64))
dcase("nll_loss", F.nll_loss, LOGITS, T([2.0, 0.0], F32))
dcase("nll_loss", F.nll_loss, LOGITS, T([True, False], B))
dcase("cross_entropy", F.cross_entropy, LOGITS.to(F64), T([1, 0], I64))
dcase("cross_entropy", F.cross_entropy, LOGITS, T([1.0, 0.0], F32))

# to(): truncation toward zero, nonzero (and NaN) is true, rounding between floating dtypes and from int64
for dst in DTYPES:
    op = "to_" + {B: "bool", I64: "int64", F32: "float32", F64: "float64"}[dst]
    fn = (lambda dst: lambda x: x.to(dst))(dst)
    dcase(op, fn, T([True, False], B))
    dcase(op, fn, T([0, 5, -1, 2 ** 53 + 1, 2 ** 60 + 1, 2 ** 24 + 1], I64))
    dcase(op, fn, T([-2.7, -0.5, -0.0, 0.5, 2.7, 1e10, -7.0, 0.1, 1e-30], F32))
    dcase(op, fn, T([-2.7, 0.999999, 1e15, -3.5, 0.1, 1 / 3, 1e-50], F64))
dcase("to_bool", lambda x: x.to(B), T([NAN, INF, -INF, -0.0], F32), tag="special")
dcase("to_float32", lambda x: x.to(F32), T([1e300, -1e300, NAN, 3.4028235677973366e38], F64), tag="special")
dcase("to_float64", lambda x: x.to(F64), T([NAN, INF, -INF], F32), tag="special")

# concat promotes to the common dtype (torch.cat)
for da, db in [(I64, F32), (B, I64), (F32, F64), (B, B), (B, F32), (I64, F64)]:
    dcase("concat_0", lambda a, b: torch.cat([a, b], 0), ARITH[da], ARITH[db])


# ops of issue [Ops] item 1: the dtypes they take and give
for d in DTYPES:
    for op, fn in [("log1p", torch.log1p), ("expm1", torch.expm1), ("sin", torch.sin), ("cos", torch.cos),
                   ("sign", torch.sign), ("floor", torch.floor), ("ceil", torch.ceil), ("round", torch.round),
                   ("softplus", F.softplus), ("gelu", F.gelu), ("elu", F.elu), ("leaky_relu", F.leaky_relu),
                   ("silu", F.silu)]:
        dcase(op, fn, CMP[d] if d != F64 else ARITH[F64])
    for db in DTYPES:
        dcase("maximum", torch.maximum, CMP[d], CMP[db])
        dcase("minimum", torch.minimum, CMP[d], CMP[db])
    dcase("cumsum_1", lambda x: torch.cumsum(x, 1), RED[d])
    dcase("min_all", torch.min, RED[d])
    dcase("min_1", lambda x: torch.min(x, 1).values, RED[d])
    dcase("min_1_indices", lambda x: torch.min(x, 1).indices, RED[d])
    dcase("max_1_indices", lambda x: torch.max(x, 1).indices, RED[d])
    dcase("argmin_1", lambda x: torch.argmin(x, 1), RED[d])
    dcase("sort_1", lambda x: torch.sort(x, 1).values, RED[d])
    dcase("sort_1_indices", lambda x: torch.sort(x, 1).indices, RED[d])
    dcase("argsort_1_desc", lambda x: torch.argsort(x, 1, descending=True), RED[d])
    dcase("topk_2_1", lambda x: torch.topk(x, 2, 1).values, RED[d])
    dcase("logsumexp_1", lambda x: torch.logsumexp(x, 1), RED[d])
    dcase("var_1", lambda x: torch.var(x, 1), RED[d])
    dcase("std_1", lambda x: torch.std(x, 1), RED[d])
    dcase("norm_1", lambda x: torch.norm(x, dim=1), RED[d])
    dcase("repeat_2_1", lambda x: x.repeat(2, 1), RED[d])
    dcase("pad_1_1", lambda x: F.pad(x, (1, 1), value=2.5), RED[d])
    dcase("one_hot", lambda x: F.one_hot(x, 4), T([[0, 3], [1, 1]], d) if d != B else T([True, False], B))
    dcase("scatter_1", lambda x, i, s: torch.scatter(x, 1, i, s), IDX_X[d], T([[2], [0]], I64), IDX_X[d])
    dcase("scatter_add_1", lambda x, i, s: torch.scatter_add(x, 1, i, s), IDX_X[d], T([[2, 2], [0, 1]], I64),
          IDX_X[d])
    dcase("index_add_1", lambda x, i, s: torch.index_add(x, 1, i, s), IDX_X[d], T([2, 0, 2], I64), IDX_X[d])
dcase("scatter_1", lambda x, i, s: torch.scatter(x, 1, i, s), IDX_X[F32], T([[2], [0]], I64), IDX_X[F64])
dcase("index_add_1", lambda x, i, s: torch.index_add(x, 1, i, s), IDX_X[F64], T([2, 0, 2], I64), IDX_X[I64])
dcase("scatter_1", lambda x, i, s: torch.scatter(x, 1, i, s), IDX_X[F32], T([[2.0], [0.0]], F32), IDX_X[F32])
dcase("einsum_ij_jk", lambda a, b: torch.einsum("ij,jk->ik", a, b), T([[0.5, 1.0]], F32), T([[2.0], [0.1]], F64))

# in-place ops: the result keeps the tensor's dtype; a value of a wider kind is refused
INPLACE = [("add_", lambda a, b: a.clone().add_(b)), ("mul_", lambda a, b: a.clone().mul_(b)),
           ("copy_", lambda a, b: a.clone().copy_(b))]
for op, fn in INPLACE:
    for da in DTYPES:
        for db in DTYPES:
            dcase(op, fn, ARITH[da], ARITH[db])
        if op != "copy_":  # copy_ takes a tensor only
            dcase(op, fn, ARITH[da], Num(2))
            dcase(op, fn, ARITH[da], Num(0.5))
dcase("add_alpha", lambda a, b, alpha: a.clone().add_(b, alpha=alpha), ARITH[F32], ARITH[I64], Num(2))
dcase("add_alpha", lambda a, b, alpha: a.clone().add_(b, alpha=alpha), ARITH[F32], ARITH[F64], Num(-0.5))
dcase("add_alpha", lambda a, b, alpha: a.clone().add_(b, alpha=alpha), ARITH[I64], ARITH[I64], Num(0.5))
for d in DTYPES:
    for v in [Num(2.7), Num(-3), Num(True)]:
        dcase("fill_", lambda a, v: a.clone().fill_(v), ARITH[d], v)
for x, lo, hi in [(SMALL, Num(-1), Num(3)), (SMALL, Num(-0.5), Num(2.5)), (ARITH[F32], Num(-1), Num(1)),
                  (ARITH[F64], Num(0), Num(0.2)), (BOOLS, Num(0), Num(1))]:
    dcase("clamp_", lambda a, lo, hi: a.clone().clamp_(lo, hi), x, lo, hi,
          tag=str(lo.value).replace(".", "_").replace("-", "m"))

# ---- evaluation and output -----------------------------------------------------------------------------
DTYPE_NAMES = {B: "bool", I64: "int64", F32: "float32", F64: "float64"}


def fmt_tensor(role, t, with_dtype=False):
    """A tensor line. int64 and bool tensors always carry their dtype; floating ones when asked."""
    t = t.detach().contiguous()
    dims = [str(d) for d in t.shape]
    if t.dtype in (B, I64):
        token = [DTYPE_NAMES[t.dtype]]
        vals = ["%d" % int(v) for v in t.reshape(-1).tolist()]
    else:
        token = [DTYPE_NAMES[t.dtype]] if with_dtype else []
        vals = ["%.17g" % v for v in t.to(DT).reshape(-1).tolist()]
    return " ".join(["tensor", role, str(len(dims))] + dims + token + [":"] + vals)


def fmt_number(role, n):
    v = n.value
    if isinstance(v, bool):
        return "tensor %s 0 bool : %d" % (role, int(v))
    if isinstance(v, int):
        return "tensor %s 0 int64 : %d" % (role, v)
    return "tensor %s 0 float64 : %.17g" % (role, v)


def run_case(name, inputs, fn):
    leaves = []
    for t, diff in inputs:
        leaf = t.clone().to(DT) if t.is_floating_point() else t.clone()
        if diff:
            leaf.requires_grad_(True)
        leaves.append(leaf)
    out = fn(*leaves)
    assert out.dtype == (DT if out.is_floating_point() else torch.long), (name, out.dtype)
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


def run_dtype_case(name, operands, fn):
    lines = [f"case {name}"]
    for i, x in enumerate(operands):
        lines.append(fmt_number(f"num{i}", x) if isinstance(x, Num) else fmt_tensor(f"in{i}", x, with_dtype=True))
    args = [x.value if isinstance(x, Num) else x.clone() for x in operands]
    try:
        out = fn(*args)
    except RuntimeError as e:
        lines.append("raises " + " ".join(str(e).split())[:200])
    else:
        lines.append(fmt_tensor("out", out, with_dtype=True))
    lines.append("end")
    return lines


def write(path, header, body, count):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(header + body) + "\n")
    print("wrote %d cases to %s (%d bytes)" % (count, path, os.path.getsize(path)))


def main():
    header = [
        "# ops_reference.txt: PyTorch %s reference values for unroll's ops (generated by tests/gen_fixtures.py,"
        % torch.__version__,
        "# seed %d; do not edit by hand). Computed in float64 from float32-representable inputs." % SEED,
        "#",
        "# Format: 'case <name>' ... 'end' blocks of lines",
        "#   tensor <role> <rank> <dims...> [<dtype>] : <values...>      (row-major, %.17g)",
        "# Floating tensors carry no dtype (the test runs each case in float32 and in float64); index and",
        "# class-target tensors are int64, conditions and masks bool.",
        "# Roles: in<i> = op inputs (in the C++ lambda's order), out = output, w = upstream gradient (shape of",
        "# out), grad<i> = d sum(out * w) / d in<i>, present exactly for the differentiable inputs.",
        "# Op parameters (axes, exponents, reductions) are encoded in the case name and hard-coded in",
        "# tests/framework/test_ops_vs_torch.cpp.",
        "",
    ]
    body = []
    for name, inputs, fn in CASES:
        body.extend(run_case(name, inputs, fn))
    write(OUT_PATH, header, body, len(CASES))

    dtype_header = [
        "# dtype_reference.txt: PyTorch %s dtype behaviour (generated by tests/gen_fixtures.py; do not edit by"
        % torch.__version__,
        "# hand): result dtypes and values of mixed-dtype ops, and the errors PyTorch raises.",
        "#",
        "# Format: 'case <op>__<operands>' ... 'end' blocks of lines",
        "#   tensor <role> <rank> <dims...> <dtype> : <values...>   (row-major; floating values %.17g)",
        "#   raises <torch's message>                                (instead of 'out': torch raised)",
        "# Roles: in<i> = tensor input i, num<i> = input i is a Python number (int64: int, float64: float,",
        "# bool: bool), out = the result with torch's result dtype. Operands: b, i, f, d = bool, int64, float32,",
        "# float64 tensors with dims, a trailing 0 = rank 0, num_<kind> = a Python number. Read by",
        "# tests/framework/test_dtype_vs_torch.cpp.",
        "",
    ]
    dtype_body = []
    for name, operands, fn in DCASES:
        dtype_body.extend(run_dtype_case(name, operands, fn))
    write(DTYPE_OUT_PATH, dtype_header, dtype_body, len(DCASES))


if __name__ == "__main__":
    main()
