// Cross-check of every op in framework/ops.hpp against PyTorch, in float32 and in float64.
//
// tests/gen_fixtures.py writes tests/fixtures/ops_reference.txt: for each case the inputs, torch's output,
// an upstream gradient w and torch's d sum(out * w) / d input for every differentiable input, all computed
// in float64 from float32-representable inputs. Here each case name maps to a lambda calling the unroll op
// with the same parameters, and every case runs twice: with its floating inputs (those without a dtype in
// the file) created as float32, where the output and the gradients of out.backward(w) must agree with torch
// to |a - b| <= 1e-4 * max(1, |b|), and as float64, where they must agree to 1e-10 * max(1, |b|) (the same
// computation in the same precision: only rounding may differ). int64 inputs (indices, class targets) and
// bool ones (conditions, masks) are created as such, and without requires_grad, as is every input that has
// no grad<i> in the file. The output's dtype must be torch's (a floating output has the run's dtype) and
// every gradient has its input's dtype.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "support/fixtures.hpp"
#include "unroll/unroll.hpp"

using namespace unroll;

namespace {

using Inputs = std::vector<Tensor>;
using OpFn = std::function<Tensor(const Inputs&)>;

// One run of every case: the dtype its floating inputs get, and how close to torch it must come.
struct Run {
  DType dtype;
  double tolerance;
  // The largest relative error seen over all values (reported at the end, to show the margin).
  double worst_error = 0;
  std::string worst_where;
};

// How multi-output ops are checked (same as flat_cat in gen_fixtures.py): piece i flattened and scaled by
// (i + 1), all concatenated.
Tensor flat_cat(const std::vector<Tensor>& pieces) {
  std::vector<Tensor> parts;
  for (size_t i = 0; i < pieces.size(); ++i)
    parts.push_back(reshape(pieces[i], Shape{-1}) * static_cast<double>(i + 1));
  return concat(parts, 0);
}

CrossEntropyOptions ce(Reduction reduction, int64_t ignore_index = kNoIgnoreIndex) {
  CrossEntropyOptions o;
  o.reduction = reduction;
  o.ignore_index = ignore_index;
  return o;
}

const std::map<std::string, OpFn>& op_table() {
  static const std::map<std::string, OpFn> table = [] {
    std::map<std::string, OpFn> t;
    // ---- elementwise arithmetic with broadcasting ----
    for (const char* suffix : {"_same", "_bcast_3d_31", "_bcast_31_3d", "_bcast_scalar", "_bcast_both"}) {
      t[std::string("add") + suffix] = [](const Inputs& x) { return add(x[0], x[1]); };
      t[std::string("sub") + suffix] = [](const Inputs& x) { return sub(x[0], x[1]); };
      t[std::string("mul") + suffix] = [](const Inputs& x) { return mul(x[0], x[1]); };
      t[std::string("div") + suffix] = [](const Inputs& x) { return div(x[0], x[1]); };
    }
    t["div_bcast_scalar_num"] = [](const Inputs& x) { return div(x[0], x[1]); };
    t["mul_self"] = [](const Inputs& x) { return mul(x[0], x[0]); };
    t["reuse_chain"] = [](const Inputs& x) { return (x[0] * x[1] + x[0]) / (x[1] * x[1] + 1.0); };
    t["neg"] = [](const Inputs& x) { return neg(x[0]); };
    t["scalar_add_right"] = [](const Inputs& x) { return x[0] + 2.5; };
    t["scalar_add_left"] = [](const Inputs& x) { return 2.5 + x[0]; };
    t["scalar_sub_right"] = [](const Inputs& x) { return x[0] - 1.25; };
    t["scalar_sub_left"] = [](const Inputs& x) { return 1.25 - x[0]; };
    t["scalar_mul_right"] = [](const Inputs& x) { return x[0] * -1.5; };
    t["scalar_mul_left"] = [](const Inputs& x) { return -1.5 * x[0]; };
    t["scalar_div_right"] = [](const Inputs& x) { return x[0] / 4.0; };
    t["scalar_div_left"] = [](const Inputs& x) { return 3.0 / x[0]; };
    t["op_tensor_tensor"] = [](const Inputs& x) { return -(x[0] + x[1]) * (x[0] - x[1]) / x[1]; };
    // ---- pow ----
    t["pow_scalar_2"] = [](const Inputs& x) { return pow(x[0], 2.0); };
    t["pow_scalar_3"] = [](const Inputs& x) { return pow(x[0], 3.0); };
    t["pow_scalar_0_5"] = [](const Inputs& x) { return pow(x[0], 0.5); };
    t["pow_scalar_m1"] = [](const Inputs& x) { return pow(x[0], -1.0); };
    t["pow_scalar_1_7"] = [](const Inputs& x) { return pow(x[0], 1.7); };
    t["pow_scalar_0"] = [](const Inputs& x) { return pow(x[0], 0.0); };
    t["pow_tensor"] = [](const Inputs& x) { return pow(x[0], x[1]); };
    t["pow_tensor_bcast"] = [](const Inputs& x) { return pow(x[0], x[1]); };
    // ---- pointwise functions ----
    t["exp"] = [](const Inputs& x) { return exp(x[0]); };
    t["log"] = [](const Inputs& x) { return log(x[0]); };
    t["sqrt"] = [](const Inputs& x) { return sqrt(x[0]); };
    t["abs"] = [](const Inputs& x) { return abs(x[0]); };
    t["clamp_m0_5_0_7"] = [](const Inputs& x) { return clamp(x[0], -0.5, 0.7); };
    t["tanh"] = [](const Inputs& x) { return tanh(x[0]); };
    t["sigmoid"] = [](const Inputs& x) { return sigmoid(x[0]); };
    t["relu"] = [](const Inputs& x) { return relu(x[0]); };
    t["clone"] = [](const Inputs& x) { return clone(x[0]); };
    // ---- selection ----
    t["where_same"] = [](const Inputs& x) { return where(x[0], x[1], x[2]); };
    t["where_bcast"] = [](const Inputs& x) { return where(x[0], x[1], x[2]); };
    t["where_bcast_ab"] = [](const Inputs& x) { return where(x[0], x[1], x[2]); };
    t["masked_fill_m1e9"] = [](const Inputs& x) { return masked_fill(x[0], x[1], -1e9); };
    t["masked_fill_0_5"] = [](const Inputs& x) { return masked_fill(x[0], x[1], 0.5); };
    // ---- linear algebra ----
    t["matmul_2d"] = [](const Inputs& x) { return matmul(x[0], x[1]); };
    t["matmul_2d_ta"] = [](const Inputs& x) { return matmul(x[0], x[1], true, false); };
    t["matmul_2d_tb"] = [](const Inputs& x) { return matmul(x[0], x[1], false, true); };
    t["matmul_2d_ta_tb"] = [](const Inputs& x) { return matmul(x[0], x[1], true, true); };
    t["matmul_fold"] = [](const Inputs& x) { return matmul(x[0], x[1]); };
    t["matmul_fold_tb"] = [](const Inputs& x) { return matmul(x[0], x[1], false, true); };
    t["matmul_fold_4d"] = [](const Inputs& x) { return matmul(x[0], x[1]); };
    t["matmul_batched"] = [](const Inputs& x) { return matmul(x[0], x[1]); };
    t["matmul_batched_ta"] = [](const Inputs& x) { return matmul(x[0], x[1], true, false); };
    t["matmul_batched_tb"] = [](const Inputs& x) { return matmul(x[0], x[1], false, true); };
    t["matmul_batched_ta_tb"] = [](const Inputs& x) { return matmul(x[0], x[1], true, true); };
    t["matmul_batched_4d"] = [](const Inputs& x) { return matmul(x[0], x[1]); };
    t["linear_bias"] = [](const Inputs& x) { return linear(x[0], x[1], x[2]); };
    t["linear_nobias"] = [](const Inputs& x) { return linear(x[0], x[1]); };
    t["addmm_full"] = [](const Inputs& x) { return addmm(x[0], x[1], x[2]); };
    t["addmm_bias"] = [](const Inputs& x) { return addmm(x[0], x[1], x[2]); };
    t["addmm_column"] = [](const Inputs& x) { return addmm(x[0], x[1], x[2]); };
    t["addmm_tb"] = [](const Inputs& x) { return addmm(x[0], x[1], x[2], false, true); };
    t["addmm_ta_tb"] = [](const Inputs& x) { return addmm(x[0], x[1], x[2], true, true); };
    t["addmm_fold_tb"] = [](const Inputs& x) { return addmm(x[0], x[1], x[2], false, true); };
    // ---- shape ----
    t["reshape_4_m1"] = [](const Inputs& x) { return reshape(x[0], Shape{4, -1}); };
    t["reshape_rank0_to_1"] = [](const Inputs& x) { return reshape(x[0], Shape{1}); };
    t["flatten_1_2"] = [](const Inputs& x) { return flatten(x[0], 1, 2); };
    t["flatten_all"] = [](const Inputs& x) { return flatten(x[0]); };
    t["unsqueeze_m1"] = [](const Inputs& x) { return unsqueeze(x[0], -1); };
    t["unsqueeze_0"] = [](const Inputs& x) { return unsqueeze(x[0], 0); };
    t["squeeze_1"] = [](const Inputs& x) { return squeeze(x[0], 1); };
    t["permute_2_0_1"] = [](const Inputs& x) { return permute(x[0], {2, 0, 1}); };
    t["permute_4d"] = [](const Inputs& x) { return permute(x[0], {1, 3, 0, 2}); };
    t["transpose_0_m1"] = [](const Inputs& x) { return transpose(x[0], 0, -1); };
    t["transpose_2d"] = [](const Inputs& x) { return x[0].t(); };
    t["narrow_1_1_2"] = [](const Inputs& x) { return narrow(x[0], 1, 1, 2); };
    t["narrow_m1_0_2"] = [](const Inputs& x) { return narrow(x[0], -1, 0, 2); };
    t["slice_1_m5_8_2"] = [](const Inputs& x) { return slice(x[0], 1, -5, 8, 2); };
    t["slice_1_m7_m1_3"] = [](const Inputs& x) { return slice(x[0], 1, -7, -1, 3); };
    t["slice_0_1_100_1"] = [](const Inputs& x) { return slice(x[0], 0, 1, 100); };
    t["slice_1_m20_4_1"] = [](const Inputs& x) { return slice(x[0], 1, -20, 4, 1); };
    t["slice_m1_1_6_2"] = [](const Inputs& x) { return slice(x[0], -1, 1, 6, 2); };
    t["concat_1"] = [](const Inputs& x) { return concat({x[0], x[1], x[2]}, 1); };
    t["concat_0"] = [](const Inputs& x) { return concat({x[0], x[1]}, 0); };
    t["concat_m1"] = [](const Inputs& x) { return concat({x[0], x[1]}, -1); };
    t["stack_0"] = [](const Inputs& x) { return stack({x[0], x[1], x[2]}, 0); };
    t["stack_1"] = [](const Inputs& x) { return stack({x[0], x[1], x[2]}, 1); };
    t["stack_m1"] = [](const Inputs& x) { return stack({x[0], x[1]}, -1); };
    t["split_size_2_axis1"] = [](const Inputs& x) { return flat_cat(split(x[0], int64_t{2}, 1)); };
    t["split_sizes_1_3_1_axis0"] = [](const Inputs& x) {
      return flat_cat(split(x[0], std::vector<int64_t>{1, 3, 1}, 0));
    };
    t["split_size_3_axism1"] = [](const Inputs& x) { return flat_cat(split(x[0], int64_t{3}, -1)); };
    t["chunk_3_axis1"] = [](const Inputs& x) { return flat_cat(chunk(x[0], 3, 1)); };
    t["chunk_4_of_6_axis0"] = [](const Inputs& x) { return flat_cat(chunk(x[0], 4, 0)); };
    t["chunk_2_axism1"] = [](const Inputs& x) { return flat_cat(chunk(x[0], 2, -1)); };
    t["unbind_0"] = [](const Inputs& x) { return flat_cat(unbind(x[0], 0)); };
    t["unbind_1"] = [](const Inputs& x) { return flat_cat(unbind(x[0], 1)); };
    t["unbind_1_stack"] = [](const Inputs& x) {
      std::vector<Tensor> pieces = unbind(x[0], 1);
      std::reverse(pieces.begin(), pieces.end());
      return stack(pieces, 0);
    };
    t["flip_0"] = [](const Inputs& x) { return flip(x[0], 0); };
    t["flip_m1"] = [](const Inputs& x) { return flip(x[0], -1); };
    t["flip_1"] = [](const Inputs& x) { return flip(x[0], 1); };
    t["expand_31_to_234"] = [](const Inputs& x) { return expand(x[0], Shape{2, 3, 4}); };
    t["expand_1_to_22"] = [](const Inputs& x) { return expand(x[0], Shape{2, 2}); };
    t["expand_scalar_to_23"] = [](const Inputs& x) { return expand(x[0], Shape{2, 3}); };
    t["expand_same"] = [](const Inputs& x) { return expand(x[0], Shape{2, 3}); };
    // ---- indexing ----
    t["index_select_1_dup"] = [](const Inputs& x) { return index_select(x[0], 1, x[1]); };
    t["index_select_0_3d"] = [](const Inputs& x) { return index_select(x[0], 0, x[1]); };
    t["index_select_m1"] = [](const Inputs& x) { return index_select(x[0], -1, x[1]); };
    t["embedding_2d_dup"] = [](const Inputs& x) { return embedding(x[0], x[1]); };
    t["embedding_1d"] = [](const Inputs& x) { return embedding(x[0], x[1]); };
    t["gather_1"] = [](const Inputs& x) { return gather(x[0], 1, x[1]); };
    t["gather_0"] = [](const Inputs& x) { return gather(x[0], 0, x[1]); };
    t["gather_m1"] = [](const Inputs& x) { return gather(x[0], -1, x[1]); };
    // ---- reductions ----
    t["sum_all"] = [](const Inputs& x) { return sum(x[0]); };
    t["sum_0_2"] = [](const Inputs& x) { return sum(x[0], {0, 2}); };
    t["sum_1_keepdim"] = [](const Inputs& x) { return sum(x[0], {1}, true); };
    t["sum_m1"] = [](const Inputs& x) { return sum(x[0], {-1}); };
    t["sum_0_m1_keepdim"] = [](const Inputs& x) { return sum(x[0], {0, -1}, true); };
    t["mean_all"] = [](const Inputs& x) { return mean(x[0]); };
    t["mean_0_2"] = [](const Inputs& x) { return mean(x[0], {0, 2}); };
    t["mean_1_keepdim"] = [](const Inputs& x) { return mean(x[0], {1}, true); };
    t["mean_m1"] = [](const Inputs& x) { return mean(x[0], {-1}); };
    t["max_all"] = [](const Inputs& x) { return max(x[0]); };
    t["max_1"] = [](const Inputs& x) { return max(x[0], 1).values; };
    t["max_0_keepdim"] = [](const Inputs& x) { return max(x[0], 0, true).values; };
    t["max_m1"] = [](const Inputs& x) { return max(x[0], -1).values; };
    t["argmax_1"] = [](const Inputs& x) { return argmax(x[0], 1); };
    t["argmax_m1_keepdim"] = [](const Inputs& x) { return argmax(x[0], -1, true); };
    t["log_softmax_1"] = [](const Inputs& x) { return log_softmax(x[0], 1); };
    t["log_softmax_m1_3d"] = [](const Inputs& x) { return log_softmax(x[0], -1); };
    t["log_softmax_0_3d"] = [](const Inputs& x) { return log_softmax(x[0], 0); };
    t["log_softmax_large"] = [](const Inputs& x) { return log_softmax(x[0], 1); };
    t["softmax_1"] = [](const Inputs& x) { return softmax(x[0], 1); };
    t["softmax_m1_3d"] = [](const Inputs& x) { return softmax(x[0], -1); };
    t["softmax_1_3d"] = [](const Inputs& x) { return softmax(x[0], 1); };
    // ---- losses ----
    t["nll_loss_mean"] = [](const Inputs& x) { return nll_loss(x[0], x[1]); };
    t["nll_loss_sum"] = [](const Inputs& x) { return nll_loss(x[0], x[1], ce(Reduction::Sum)); };
    t["nll_loss_none"] = [](const Inputs& x) { return nll_loss(x[0], x[1], ce(Reduction::None)); };
    t["nll_loss_mean_default_ignore"] = [](const Inputs& x) { return nll_loss(x[0], x[1]); };
    t["nll_loss_mean_ignore2"] = [](const Inputs& x) { return nll_loss(x[0], x[1], ce(Reduction::Mean, 2)); };
    t["nll_loss_sum_ignore2"] = [](const Inputs& x) { return nll_loss(x[0], x[1], ce(Reduction::Sum, 2)); };
    t["nll_loss_none_ignore2"] = [](const Inputs& x) { return nll_loss(x[0], x[1], ce(Reduction::None, 2)); };
    t["cross_entropy_mean"] = [](const Inputs& x) { return cross_entropy(x[0], x[1]); };
    t["cross_entropy_sum"] = [](const Inputs& x) { return cross_entropy(x[0], x[1], ce(Reduction::Sum)); };
    t["cross_entropy_none"] = [](const Inputs& x) { return cross_entropy(x[0], x[1], ce(Reduction::None)); };
    t["cross_entropy_mean_ignore1"] = [](const Inputs& x) { return cross_entropy(x[0], x[1], ce(Reduction::Mean, 1)); };
    t["cross_entropy_none_ignore1"] = [](const Inputs& x) { return cross_entropy(x[0], x[1], ce(Reduction::None, 1)); };
    t["cross_entropy_large_logits"] = [](const Inputs& x) { return cross_entropy(x[0], x[1]); };
    t["mse_loss_mean"] = [](const Inputs& x) { return mse_loss(x[0], x[1]); };
    t["mse_loss_sum"] = [](const Inputs& x) { return mse_loss(x[0], x[1], Reduction::Sum); };
    t["mse_loss_none"] = [](const Inputs& x) { return mse_loss(x[0], x[1], Reduction::None); };
    t["mse_loss_mean_grad_target"] = [](const Inputs& x) { return mse_loss(x[0], x[1]); };
    t["bce_logits_mean"] = [](const Inputs& x) { return binary_cross_entropy_with_logits(x[0], x[1]); };
    t["bce_logits_sum"] = [](const Inputs& x) { return binary_cross_entropy_with_logits(x[0], x[1], Reduction::Sum); };
    t["bce_logits_none"] = [](const Inputs& x) {
      return binary_cross_entropy_with_logits(x[0], x[1], Reduction::None);
    };
    t["bce_logits_large"] = [](const Inputs& x) { return binary_cross_entropy_with_logits(x[0], x[1]); };
    t["bce_logits_mean_grad_target"] = [](const Inputs& x) { return binary_cross_entropy_with_logits(x[0], x[1]); };
    // ---- random ops in their deterministic modes ----
    t["dropout_eval"] = [](const Inputs& x) { return dropout(x[0], 0.5, false); };
    t["dropout_p0_train"] = [](const Inputs& x) { return dropout(x[0], 0.0, true); };
    // ---- extrema, sorting ----
    t["min_all"] = [](const Inputs& x) { return min(x[0]); };
    t["min_1"] = [](const Inputs& x) { return min(x[0], 1).values; };
    t["min_0_keepdim"] = [](const Inputs& x) { return min(x[0], 0, true).values; };
    t["min_1_indices"] = [](const Inputs& x) { return min(x[0], 1).indices; };
    t["max_m1_indices"] = [](const Inputs& x) { return max(x[0], -1).indices; };
    t["max_all_ties"] = [](const Inputs& x) { return max(x[0]); };
    t["min_all_ties"] = [](const Inputs& x) { return min(x[0]); };
    t["argmin_1"] = [](const Inputs& x) { return argmin(x[0], 1); };
    t["argmin_m1_keepdim"] = [](const Inputs& x) { return argmin(x[0], -1, true); };
    for (const char* suffix : {"_same", "_bcast", "_ties"}) {
      t[std::string("maximum") + suffix] = [](const Inputs& x) { return maximum(x[0], x[1]); };
      t[std::string("minimum") + suffix] = [](const Inputs& x) { return minimum(x[0], x[1]); };
    }
    t["sort_m1"] = [](const Inputs& x) { return sort(x[0], -1).values; };
    t["sort_m1_indices"] = [](const Inputs& x) { return sort(x[0], -1).indices; };
    t["sort_0_desc"] = [](const Inputs& x) { return sort(x[0], 0, true).values; };
    t["sort_0_desc_indices"] = [](const Inputs& x) { return sort(x[0], 0, true).indices; };
    t["argsort_1"] = [](const Inputs& x) { return argsort(x[0], 1); };
    t["argsort_m1_desc"] = [](const Inputs& x) { return argsort(x[0], -1, true); };
    t["topk_2_m1"] = [](const Inputs& x) { return topk(x[0], 2, -1).values; };
    t["topk_2_m1_indices"] = [](const Inputs& x) { return topk(x[0], 2, -1).indices; };
    t["topk_3_0_smallest"] = [](const Inputs& x) { return topk(x[0], 3, 0, false).values; };
    t["topk_3_0_smallest_indices"] = [](const Inputs& x) { return topk(x[0], 3, 0, false).indices; };
    // ---- cumsum, logsumexp, var, std, norm ----
    t["cumsum_0"] = [](const Inputs& x) { return cumsum(x[0], 0); };
    t["cumsum_m1"] = [](const Inputs& x) { return cumsum(x[0], -1); };
    t["cumsum_1_3d"] = [](const Inputs& x) { return cumsum(x[0], 1); };
    t["logsumexp_1"] = [](const Inputs& x) { return logsumexp(x[0], {1}); };
    t["logsumexp_0_2_keepdim"] = [](const Inputs& x) { return logsumexp(x[0], {0, 2}, true); };
    t["logsumexp_all"] = [](const Inputs& x) { return logsumexp(x[0], {0, 1}); };
    t["logsumexp_large"] = [](const Inputs& x) { return logsumexp(x[0], {1}); };
    t["var_all"] = [](const Inputs& x) { return var(x[0]); };
    t["var_1"] = [](const Inputs& x) { return var(x[0], {1}); };
    t["var_0_2_keepdim"] = [](const Inputs& x) { return var(x[0], {0, 2}, true, true); };
    t["var_1_biased"] = [](const Inputs& x) { return var(x[0], {1}, false); };
    t["std_all"] = [](const Inputs& x) { return unroll::std(x[0]); };
    t["std_1"] = [](const Inputs& x) { return unroll::std(x[0], {1}); };
    t["std_0_keepdim_biased"] = [](const Inputs& x) { return unroll::std(x[0], {0}, false, true); };
    t["std_1_constant_row"] = [](const Inputs& x) { return unroll::std(x[0], {1}); };
    t["norm_2_all"] = [](const Inputs& x) { return norm(x[0]); };
    t["norm_1_all"] = [](const Inputs& x) { return norm(x[0], 1); };
    t["norm_inf_all"] = [](const Inputs& x) { return norm(x[0], INFINITY); };
    t["norm_2_1"] = [](const Inputs& x) { return norm(x[0], 2, {1}); };
    t["norm_1_0_keepdim"] = [](const Inputs& x) { return norm(x[0], 1, {0}, true); };
    t["norm_inf_m1"] = [](const Inputs& x) { return norm(x[0], INFINITY, {-1}); };
    t["norm_2_0_2"] = [](const Inputs& x) { return norm(x[0], 2, {0, 2}); };
    t["norm_2_zero_row"] = [](const Inputs& x) { return norm(x[0], 2, {1}); };
    t["norm_inf_ties"] = [](const Inputs& x) { return norm(x[0], INFINITY, {1}); };
    // ---- one_hot, repeat, pad ----
    t["one_hot_4"] = [](const Inputs& x) { return one_hot(x[0], 4); };
    t["one_hot_infer"] = [](const Inputs& x) { return one_hot(x[0]); };
    t["repeat_2_1_3"] = [](const Inputs& x) { return repeat(x[0], {2, 1, 3}); };
    t["repeat_lead"] = [](const Inputs& x) { return repeat(x[0], {2, 3, 1}); };
    t["repeat_1d"] = [](const Inputs& x) { return repeat(x[0], {3}); };
    t["pad_1_2"] = [](const Inputs& x) { return pad(x[0], {1, 2}); };
    t["pad_2d_value"] = [](const Inputs& x) { return pad(x[0], {1, 0, 2, 1}, 0.5); };
    t["pad_negative"] = [](const Inputs& x) { return pad(x[0], {-1, 2, 1, -1}); };
    // ---- scatter, scatter_add, index_add ----
    t["scatter_1"] = [](const Inputs& x) { return scatter(x[0], 1, x[1], x[2]); };
    t["scatter_0_3d"] = [](const Inputs& x) { return scatter(x[0], 0, x[1], x[2]); };
    t["scatter_value_m1"] = [](const Inputs& x) { return scatter(x[0], -1, x[1], -0.75); };
    t["scatter_add_1_dup"] = [](const Inputs& x) { return scatter_add(x[0], 1, x[1], x[2]); };
    t["scatter_add_0"] = [](const Inputs& x) { return scatter_add(x[0], 0, x[1], x[2]); };
    t["index_add_0_dup"] = [](const Inputs& x) { return index_add(x[0], 0, x[1], x[2]); };
    t["index_add_1_alpha"] = [](const Inputs& x) { return index_add(x[0], 1, x[1], x[2], -2.5); };
    // ---- einsum ----
    t["einsum_matmul"] = [](const Inputs& x) { return einsum("ij,jk->ik", {x[0], x[1]}); };
    t["einsum_batched"] = [](const Inputs& x) { return einsum("bij,bjk->bik", {x[0], x[1]}); };
    t["einsum_implicit"] = [](const Inputs& x) { return einsum("ij,jk", {x[0], x[1]}); };
    t["einsum_transposed"] = [](const Inputs& x) { return einsum("ji,kj->ik", {x[0], x[1]}); };
    t["einsum_bilinear"] = [](const Inputs& x) { return einsum("bn,anm,bm->ba", {x[0], x[1], x[2]}); };
    t["einsum_outer"] = [](const Inputs& x) { return einsum("i,j->ij", {x[0], x[1]}); };
    t["einsum_dot"] = [](const Inputs& x) { return einsum("i,i->", {x[0], x[1]}); };
    t["einsum_hadamard"] = [](const Inputs& x) { return einsum("ij,ij->ij", {x[0], x[1]}); };
    t["einsum_rowdot"] = [](const Inputs& x) { return einsum("bi,bi->b", {x[0], x[1]}); };
    t["einsum_transpose"] = [](const Inputs& x) { return einsum("ij->ji", {x[0]}); };
    t["einsum_sum"] = [](const Inputs& x) { return einsum("ijk->j", {x[0]}); };
    t["einsum_trace"] = [](const Inputs& x) { return einsum("ii", {x[0]}); };
    t["einsum_diag"] = [](const Inputs& x) { return einsum("ii->i", {x[0]}); };
    t["einsum_diag_3d"] = [](const Inputs& x) { return einsum("iji->ji", {x[0]}); };
    t["einsum_ellipsis"] = [](const Inputs& x) { return einsum("...ij,...jk->...ik", {x[0], x[1]}); };
    t["einsum_ellipsis_sum"] = [](const Inputs& x) { return einsum("...ij->...", {x[0]}); };
    t["einsum_broadcast"] = [](const Inputs& x) { return einsum("bij,bjk->bik", {x[0], x[1]}); };
    t["einsum_heads"] = [](const Inputs& x) { return einsum("nhld,nhsd->nhls", {x[0], x[1]}); };
    t["einsum_upper"] = [](const Inputs& x) { return einsum("bA,ab", {x[0], x[1]}); };
    // ---- pointwise functions and activations ----
    t["log1p"] = [](const Inputs& x) { return log1p(x[0]); };
    t["expm1"] = [](const Inputs& x) { return expm1(x[0]); };
    t["sin"] = [](const Inputs& x) { return sin(x[0]); };
    t["cos"] = [](const Inputs& x) { return cos(x[0]); };
    t["sign"] = [](const Inputs& x) { return sign(x[0]); };
    t["floor"] = [](const Inputs& x) { return floor(x[0]); };
    t["ceil"] = [](const Inputs& x) { return ceil(x[0]); };
    t["round"] = [](const Inputs& x) { return round(x[0]); };
    t["softplus"] = [](const Inputs& x) { return softplus(x[0]); };
    t["softplus_beta2_threshold5"] = [](const Inputs& x) { return softplus(x[0], 2, 5); };
    t["gelu"] = [](const Inputs& x) { return gelu(x[0]); };
    t["gelu_tanh"] = [](const Inputs& x) { return gelu(x[0], "tanh"); };
    t["elu"] = [](const Inputs& x) { return elu(x[0]); };
    t["elu_alpha_0_5"] = [](const Inputs& x) { return elu(x[0], 0.5); };
    t["leaky_relu"] = [](const Inputs& x) { return leaky_relu(x[0]); };
    t["leaky_relu_0_2"] = [](const Inputs& x) { return leaky_relu(x[0], 0.2); };
    t["silu"] = [](const Inputs& x) { return silu(x[0]); };
    // ---- layer_norm, attention ----
    t["layer_norm_affine"] = [](const Inputs& x) { return layer_norm(x[0], {4}, x[1], x[2]); };
    t["layer_norm_2d"] = [](const Inputs& x) { return layer_norm(x[0], {3, 4}, x[1], x[2], 1e-3); };
    t["layer_norm_plain"] = [](const Inputs& x) { return layer_norm(x[0], {5}); };
    for (const char* name : {"sdpa_2d", "sdpa_batched", "sdpa_heads"})
      t[name] = [](const Inputs& x) { return scaled_dot_product_attention(x[0], x[1], x[2]); };
    for (const char* name : {"sdpa_bool_mask", "sdpa_float_mask"})
      t[name] = [](const Inputs& x) { return scaled_dot_product_attention(x[0], x[1], x[2], x[3]); };
    t["sdpa_causal"] = [](const Inputs& x) { return scaled_dot_product_attention(x[0], x[1], x[2], Tensor(), 0, true); };
    return t;
  }();
  return table;
}

const unroll_test::Fixtures& fixtures() {
  static const unroll_test::Fixtures f = unroll_test::load_fixtures(UNROLL_FIXTURES_DIR "/ops_reference.txt");
  return f;
}

Shape to_shape(const std::vector<int64_t>& dims) { return Shape(dims.begin(), dims.end()); }

// The dtype a fixture tensor is created with: its own, or `floating` when the file leaves it open.
DType dtype_of_fixture(const unroll_test::FixtureTensor& ft, DType floating) {
  if (ft.dtype.empty()) return floating;
  if (ft.dtype == "bool") return kBool;
  if (ft.dtype == "int64") return kInt64;
  return ft.dtype == "float32" ? kFloat32 : kFloat64;
}

Tensor to_tensor(const unroll_test::FixtureTensor& ft, DType floating) {
  const DType dtype = dtype_of_fixture(ft, floating);
  if (dtype == kInt64 || dtype == kBool) return tensor(ft.int_values, to_shape(ft.shape), dtype);
  return tensor(ft.values, to_shape(ft.shape), dtype);
}

// Appends a description of every way `got` differs from `expected` (which has dtype `dtype`) to `problems`.
void compare(const std::string& what, const Tensor& got, const unroll_test::FixtureTensor& expected, DType dtype,
             Run& run, std::ostringstream& problems) {
  if (!got.defined()) {
    problems << "\n  " << what << ": undefined (torch has shape " << to_string(to_shape(expected.shape)) << ")";
    return;
  }
  if (got.shape() != to_shape(expected.shape)) {
    problems << "\n  " << what << ": shape " << to_string(got.shape()) << ", torch "
             << to_string(to_shape(expected.shape));
    return;
  }
  if (got.dtype() != dtype) {
    problems << "\n  " << what << ": dtype " << name(got.dtype()) << ", expected " << name(dtype);
    return;
  }
  if (dtype == kInt64 || dtype == kBool) {  // exact
    if (got.to(kInt64).to_vector<int64_t>() != expected.int_values) problems << "\n  " << what << ": values differ";
    return;
  }
  const std::vector<double> values = got.to(kFloat64).to_vector<double>();
  int bad = 0;
  double worst = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    const double a = values[i], b = expected.values[i];
    const double err = std::abs(a - b) / std::max(1.0, std::abs(b));
    if (err > run.worst_error) {
      run.worst_error = err;
      run.worst_where = what;
    }
    if (!(err <= run.tolerance)) {  // also catches NaN
      if (bad < 4) problems << "\n  " << what << "[" << i << "]: got " << a << ", torch " << b;
      ++bad;
      worst = std::max(worst, std::isnan(err) ? INFINITY : err);
    }
  }
  if (bad > 0)
    problems << "\n  " << what << ": " << bad << " of " << values.size() << " values differ (worst relative error "
             << worst << ")";
}

// Runs one case with floating inputs of run.dtype; returns an empty string when unroll agrees with torch.
std::string run_case(const unroll_test::Case& c, const OpFn& fn, Run& run) {
  std::ostringstream problems;
  problems.precision(17);
  const std::string label = c.name + " (" + name(run.dtype) + ")";
  try {
    const int n = c.num_inputs();
    Inputs inputs;
    bool any_grad = false;
    for (int i = 0; i < n; ++i) {
      Tensor x = to_tensor(c.at("in" + std::to_string(i)), run.dtype);
      if (c.has("grad" + std::to_string(i))) {
        x.requires_grad_();
        any_grad = true;
      }
      inputs.push_back(x);
    }
    const Tensor out = fn(inputs);
    compare(label + " out", out, c.at("out"), dtype_of_fixture(c.at("out"), run.dtype), run, problems);
    if (!problems.str().empty() || !any_grad) return problems.str();
    out.backward(to_tensor(c.at("w"), run.dtype));
    for (int i = 0; i < n; ++i) {
      const std::string role = "grad" + std::to_string(i);
      if (c.has(role)) compare(label + " " + role, inputs[i].grad(), c.at(role), inputs[i].dtype(), run, problems);
    }
  } catch (const std::exception& e) {
    problems << "\n  threw: " << e.what();
  }
  return problems.str();
}

}  // namespace

TEST_CASE("every torch fixture case has a C++ lambda and every lambda a fixture case") {
  const auto& cases = fixtures();
  const auto& table = op_table();
  CHECK(cases.size() >= 100);
  for (const auto& [name, c] : cases)
    CHECK_MESSAGE(table.count(name) == 1, "fixture case '" << name << "' has no lambda");
  for (const auto& [name, fn] : table)
    CHECK_MESSAGE(cases.count(name) == 1,
                  "lambda '" << name << "' has no fixture case (re-run tests/gen_fixtures.py?)");
}

TEST_CASE("the fixture marks index, target and condition inputs as int64 and bool") {
  const auto& cases = fixtures();
  for (const char* name : {"index_select_1_dup", "embedding_2d_dup", "gather_1", "nll_loss_mean", "cross_entropy_sum"})
    CHECK_MESSAGE(cases.at(name).at("in1").dtype == "int64", name);
  for (const char* name : {"where_same", "where_bcast"}) CHECK_MESSAGE(cases.at(name).at("in0").dtype == "bool", name);
  CHECK(cases.at("masked_fill_0_5").at("in1").dtype == "bool");
  CHECK(cases.at("argmax_1").at("out").dtype == "int64");
  CHECK(cases.at("add_same").at("in0").dtype.empty());  // floating: each run picks the precision
}

TEST_CASE("ops agree with PyTorch in float32 and in float64: outputs and gradients of sum(out * w)") {
  const auto& cases = fixtures();
  const auto& table = op_table();
  // Sorted so failures are reported in a stable order.
  std::map<std::string, const unroll_test::Case*> sorted;
  for (const auto& [name, c] : cases) sorted[name] = &c;
  for (Run run : {Run{kFloat32, 1e-4}, Run{kFloat64, 1e-10}}) {
    int passed = 0;
    for (const auto& [name, c] : sorted) {
      auto it = table.find(name);
      if (it == table.end()) continue;  // reported by the test case above
      const std::string problems = run_case(*c, it->second, run);
      CHECK_MESSAGE(problems.empty(), "case " << name << " (" << std::string(unroll::name(run.dtype))
                                              << ") disagrees with torch:" << problems);
      if (problems.empty()) ++passed;
    }
    MESSAGE(std::string(unroll::name(run.dtype))
            << ": " << passed << " of " << sorted.size() << " torch cases agree; largest relative error "
            << run.worst_error << " (" << run.worst_where << "), tolerance " << run.tolerance);
  }
}
