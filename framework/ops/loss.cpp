// Loss functions, all composed from primitive ops (no backward of their own).
#include <cmath>

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/kernels.hpp"
#include "unroll/framework/ops.hpp"

namespace unroll {

using detail::check;

namespace {
Tensor reduce(const Tensor& losses, Reduction reduction) {
  switch (reduction) {
    case Reduction::Sum:
      return sum(losses);
    case Reduction::Mean:
      return mean(losses);
    case Reduction::None:
      return losses;
  }
  return losses;
}
}  // namespace

Tensor nll_loss(const Tensor& log_probs, const Tensor& targets, CrossEntropyOptions options) {
  detail::check_defined("nll_loss", log_probs, targets);
  check(log_probs.dim() == 2, "nll_loss: expects log-probabilities [N, C], got {} (reshape [T, N, C] to [T*N, C])",
        log_probs.shape());
  const int64_t n = log_probs.size(0), classes = log_probs.size(1);
  check(targets.dim() == 1 && targets.size(0) == n, "nll_loss: targets must be [{}] for input {}, got {}", n,
        log_probs.shape(), targets.shape());
  check(targets.dtype() == kInt64,
        "nll_loss: targets must be int64 class ids, got {} (targets shape {}, input {}); "
        "convert with .to(kInt64)",
        name(targets.dtype()), targets.shape(), log_probs.shape());
  // valid[i] is true unless target i is ignore_index; ignored rows gather class 0 and are masked out.
  Tensor valid = empty({n}, kBool), safe_targets = empty({n, 1}, kInt64);
  const int64_t* t = targets.data<int64_t>();
  int64_t count = 0;
  for (int64_t i = 0; i < n; ++i) {
    const bool ignored = t[i] == options.ignore_index;
    check(ignored || (t[i] >= 0 && t[i] < classes),
          "nll_loss: target {} at position {} is not a class id in [0, {}) "
          "for input {}",
          t[i], i, classes, log_probs.shape());
    valid.data<bool>()[i] = !ignored;
    safe_targets.data<int64_t>()[i] = ignored ? 0 : t[i];
    count += !ignored;
  }
  // losses[i] = -log_probs[i, target[i]] for valid rows, 0 for ignored ones   [N]
  const Tensor picked = reshape(gather(log_probs, 1, safe_targets), {n});
  const Tensor losses = neg(mul(picked, valid));
  if (options.reduction == Reduction::Mean)  // mean over the rows that count (NaN when none do, as PyTorch)
    return div(sum(losses), detail::wrapped_scalar(count));
  return reduce(losses, options.reduction);
}

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, CrossEntropyOptions options) {
  detail::check_defined("cross_entropy", logits, targets);
  check(logits.dim() == 2, "cross_entropy: expects logits [N, C], got {} (reshape [T, N, C] to [T*N, C])",
        logits.shape());
  return nll_loss(log_softmax(logits, 1), targets, options);
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  detail::check_defined("mse_loss", input, target);
  check(input.shape() == target.shape(), "mse_loss: input {} and target {} must have the same shape", input.shape(),
        target.shape());
  const Tensor diff = sub(input, target);
  return reduce(mul(diff, diff), reduction);
}

Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& targets, Reduction reduction) {
  detail::check_defined("binary_cross_entropy_with_logits", logits, targets);
  check(logits.shape() == targets.shape(),
        "binary_cross_entropy_with_logits: logits {} and targets {} must have the same shape", logits.shape(),
        targets.shape());
  // -[y log s(x) + (1-y) log(1-s(x))] = max(x, 0) - x y + log(1 + exp(-|x|)), stable for any x
  const Tensor losses = add(sub(relu(logits), mul(logits, targets)), log(exp(neg(abs(logits))) + 1));
  return reduce(losses, reduction);
}

}  // namespace unroll
