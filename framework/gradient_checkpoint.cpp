#include "unroll/framework/gradient_checkpoint.hpp"

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/check.hpp"
#include "unroll/framework/detail/kernels.hpp"
#include "unroll/framework/ops.hpp"

namespace unroll {

namespace {
class EnableGradGuard {  // the inverse of NoGradGuard, for the recomputation inside backward
 public:
  EnableGradGuard() : previous_(is_grad_enabled()) { set_grad_enabled(true); }
  ~EnableGradGuard() { set_grad_enabled(previous_); }

 private:
  bool previous_;
};
}  // namespace

std::vector<Tensor> checkpoint(const SegmentFn& fn, const std::vector<Tensor>& inputs) {
  for (size_t i = 0; i < inputs.size(); ++i)
    detail::check(inputs[i].defined(), "checkpoint: input {} is an undefined tensor", i);
  if (!is_grad_enabled()) return fn(inputs);
  const Generator rng_before = default_generator();
  std::vector<Tensor> outputs;
  {
    NoGradGuard no_graph;  // the segment's activations are not kept
    outputs = fn(inputs);
  }
  detail::check(!outputs.empty(), "checkpoint: the segment function returned no tensors");
  // One node needs one output: pack every output, flattened, into one tensor [sum of sizes].
  std::vector<Tensor> flat;
  std::vector<Shape> shapes;
  for (const Tensor& o : outputs) {
    detail::check(o.defined(), "checkpoint: the segment function returned an undefined tensor");
    shapes.push_back(o.shape());
    flat.push_back(reshape(o, {o.numel()}));
  }
  Tensor packed = concat(flat, 0);
  record(packed, "checkpoint", inputs, [fn, shapes, rng_before](BackwardContext& c) {
    // Recompute the segment with recording on, from fresh leaves holding the inputs' values.
    std::vector<Tensor> leaves;
    const size_t n_inputs = c.num_inputs();
    for (size_t i = 0; i < n_inputs; ++i) {
      Tensor leaf = detail::as_tensor(c.input(static_cast<int>(i)));
      if (c.needs_grad(static_cast<int>(i))) leaf.requires_grad_();
      leaves.push_back(leaf);
    }
    Generator& rng = default_generator();
    const Generator rng_now = rng;
    rng = rng_before;  // same random draws as the first run
    std::vector<Tensor> recomputed;
    {
      EnableGradGuard grad_on;
      recomputed = fn(leaves);
    }
    rng = rng_now;
    // Backward through the recomputed graph, seeded with the slices of the packed gradient.
    std::vector<Tensor> roots, seeds;
    int64_t offset = 0;
    for (size_t k = 0; k < recomputed.size(); ++k) {
      const int64_t n = shapes[k].numel();
      if (recomputed[k].requires_grad())
        roots.push_back(recomputed[k]), seeds.push_back(reshape(narrow(c.grad_output(), 0, offset, n), shapes[k]));
      offset += n;
    }
    if (!roots.empty()) backward(roots, seeds);
    for (size_t i = 0; i < n_inputs; ++i)
      if (leaves[i].requires_grad() && leaves[i].grad().defined()) c.add_grad(static_cast<int>(i), leaves[i].grad());
  });
  // Hand back views of the packed tensor, so gradients reach the checkpoint node.
  std::vector<Tensor> result;
  int64_t offset = 0;
  for (const Shape& s : shapes) {
    result.push_back(reshape(narrow(packed, 0, offset, s.numel()), s));
    offset += s.numel();
  }
  return result;
}

}  // namespace unroll
