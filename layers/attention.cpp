// attend() and the argument checks shared by AdditiveAttention and MultiplicativeAttention. Shape legend as in
// attention.hpp: S = steps, N = batch, Q = query size, K = key size, V = value size.
#include "unroll/layers/attention.hpp"

#include <cmath>

#include "unroll/framework/detail/check.hpp"

namespace unroll::layers {

using unroll::detail::check;

AttentionOutput attend(const Tensor& scores, const Tensor& values, const Tensor& mask, const char* who) {
  unroll::detail::check_defined(who, scores, values);
  check(scores.dim() == 2 && values.dim() == 3 && values.shape()[0] == scores.shape()[0] &&
            values.shape()[1] == scores.shape()[1],
        "{}: scores must be [S, N] and values [S, N, V], got scores {} and values {}", who, scores.shape(),
        values.shape());
  Tensor masked = scores;  // [S, N]
  if (mask.defined()) {
    check(mask.dtype() == kBool && mask.shape() == scores.shape(),
          "{}: mask must be a bool tensor [S, N] = {} (true = a real step), got {} {}", who, scores.shape(),
          name(mask.dtype()), mask.shape());
    const Tensor padded = logical_not(mask);
    // Padded steps score -inf, so exp gives them exactly 0. A sequence with no real step would then be all
    // -inf (a NaN softmax); its scores become 0 instead and its weights are zeroed below.
    const Tensor empty_sequence = logical_not(gt(sum(mask, {0}, true), 0));  // [1, N] bool
    masked = masked_fill(masked_fill(scores, padded, -INFINITY), empty_sequence, 0);
  }
  Tensor weights = softmax(masked, 0);  // [S, N], over the steps
  if (mask.defined()) weights = masked_fill(weights, logical_not(mask), 0);
  // context[n] = sum_s weights[s, n] values[s, n]: [S, N, 1] * [S, N, V] summed over S -> [N, V]
  Tensor context = sum(mul(unsqueeze(weights, -1), values), {0});
  return {context, transpose(weights, 0, 1)};
}

namespace detail {

void check_attention_inputs(const char* who, const Tensor& query, int64_t query_size, const Tensor& keys,
                            int64_t key_size, const Tensor& values, const Tensor& mask) {
  unroll::detail::check_defined(who, query, keys);
  check(query.dim() == 2 && query.shape()[1] == query_size, "{}: query must be [N, Q] = [N, {}], got {} (keys {})", who,
        query_size, query.shape(), keys.shape());
  const int64_t n = query.shape()[0];
  check(keys.dim() == 3 && keys.shape()[1] == n && keys.shape()[2] == key_size,
        "{}: keys must be [S, N, K] = [S, {}, {}] (time-major), got {} (query {})", who, n, key_size, keys.shape(),
        query.shape());
  const int64_t s = keys.shape()[0];
  check(query.is_floating_point() && keys.dtype() == query.dtype(),
        "{}: query and keys must be floating tensors of one dtype, got {} {} and {} {}", who, name(query.dtype()),
        query.shape(), name(keys.dtype()), keys.shape());
  if (values.defined()) {
    check(values.dim() == 3 && values.shape()[0] == s && values.shape()[1] == n,
          "{}: values must be [S, N, V] = [{}, {}, V] like the keys {}, got {}", who, s, n, keys.shape(),
          values.shape());
    check(values.dtype() == query.dtype(), "{}: values have dtype {} but the query has {} (values {})", who,
          name(values.dtype()), name(query.dtype()), values.shape());
  }
  if (mask.defined())
    check(mask.dtype() == kBool && mask.dim() == 2 && mask.shape()[0] == s && mask.shape()[1] == n,
          "{}: mask must be a bool tensor [S, N] = [{}, {}] (true = a real step), got {} {}", who, s, n,
          name(mask.dtype()), mask.shape());
}

}  // namespace detail
}  // namespace unroll::layers
