// unroll/framework/gradient_checkpoint.hpp: trade compute for memory in backpropagation.
//
// checkpoint(fn, inputs) runs fn without recording its inner graph, keeping only its inputs. When
// backward reaches it, fn runs again with recording on and the gradient flows through that fresh graph.
// A long unrolled sequence split into segments of k steps then keeps O(T/k) segment states plus one
// segment's O(k) activations instead of all T steps' (layers/unroller.hpp: UnrollOptions::checkpoint_every).
#pragma once

#include <functional>
#include <vector>

#include "unroll/framework/tensor.hpp"

namespace unroll {

using SegmentFn = std::function<std::vector<Tensor>(const std::vector<Tensor>& inputs)>;

// Returns fn(inputs). fn must be deterministic given its inputs and the thread's default generator (whose
// state is saved and restored for the recomputation, so dropout draws the same masks). Parameters fn
// reads directly (not through `inputs`), such as a module's weights, receive their gradients during the
// recomputation. With grad mode off this is just fn(inputs).
std::vector<Tensor> checkpoint(const SegmentFn& fn, const std::vector<Tensor>& inputs);

}  // namespace unroll
