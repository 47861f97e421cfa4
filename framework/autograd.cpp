// The backward engine. See autograd.hpp for the contract and docs/architecture.md for the walk-through.
#include "unroll/framework/autograd.hpp"

#include <atomic>
#include <cstring>
#include <exception>

#include "unroll/framework/detail/anomaly.hpp"
#include "unroll/framework/detail/blas.hpp"
#include "unroll/framework/detail/block_pool.hpp"
#include "unroll/framework/detail/check.hpp"
#include "unroll/framework/detail/denormals.hpp"
#include "unroll/framework/detail/gemm_kernel.hpp"
#include "unroll/framework/detail/kernels.hpp"
#include "unroll/framework/detail/sharded_counter.hpp"
#include "unroll/framework/ops.hpp"

namespace unroll {

// ---- grad mode -------------------------------------------------------------------------------------
namespace {
thread_local bool t_grad_enabled = true;
thread_local int64_t t_time_step = -1;
constinit detail::ShardedCounter g_live_nodes;  // Nodes alive, all threads (live_node_count)
std::atomic<uint64_t> g_pass_counter{0};  // each backward pass marks the tensors it visits with a fresh number
}  // namespace

bool is_grad_enabled() { return t_grad_enabled; }
void set_grad_enabled(bool on) { t_grad_enabled = on; }
TimeStepScope::TimeStepScope(int64_t t) : previous_(t_time_step) { t_time_step = t; }
TimeStepScope::~TimeStepScope() { t_time_step = previous_; }

int64_t live_node_count() { return g_live_nodes.total(); }

// ---- nodes -----------------------------------------------------------------------------------------
namespace {
// Destroying the last handle of a long chain (tensor -> node -> input tensor -> node ...) would recurse
// once per link. Instead, the outermost ~Node drains a worklist while inner ones only add to it.
struct Graveyard {
  std::vector<std::shared_ptr<TensorImpl>> tensors;
  std::vector<BackwardFn> closures;  // may hold saved tensors with history of their own
};
thread_local Graveyard* t_graveyard = nullptr;
}  // namespace

Node::Node() { g_live_nodes.add(1); }

Node::~Node() {
  g_live_nodes.add(-1);
  if (inputs.empty() && !backward) return;
  if (t_graveyard) {
    for (auto& in : inputs) t_graveyard->tensors.push_back(std::move(in));
    if (backward) t_graveyard->closures.push_back(std::move(backward));
    return;
  }
  Graveyard graveyard;
  t_graveyard = &graveyard;
  graveyard.tensors = std::move(inputs);
  if (backward) graveyard.closures.push_back(std::move(backward));
  while (!graveyard.tensors.empty() || !graveyard.closures.empty()) {
    if (!graveyard.tensors.empty()) {
      auto last = std::move(graveyard.tensors.back());
      graveyard.tensors.pop_back();
      last.reset();  // may destroy a Node, which appends to the graveyard instead of recursing
    } else {
      auto last = std::move(graveyard.closures.back());
      graveyard.closures.pop_back();
      last = nullptr;
    }
  }
  t_graveyard = nullptr;
}

bool should_record(std::initializer_list<const Tensor*> inputs) {
  if (!t_grad_enabled) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && t->impl()->requires_grad) return true;
  return false;
}

bool should_record(const std::vector<Tensor>& inputs) {
  if (!t_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.impl()->requires_grad) return true;
  return false;
}

void record(Tensor& output, const char* name, std::vector<Tensor> inputs, BackwardFn backward) {
  if (detail::t_anomaly_enabled) [[unlikely]]  // framework/anomaly.hpp
    detail::anomaly_check_output(output, name, t_time_step, inputs);
  auto node = std::allocate_shared<Node>(detail::PoolAllocator<Node>());
  node->name = name;
  node->time_step = t_time_step;
  node->recorded_at = detail::inplace_clock.load(std::memory_order_relaxed);
  node->inputs.reserve(inputs.size());
  for (Tensor& t : inputs) node->inputs.push_back(t.impl_ptr());
  node->backward = std::move(backward);
  output.impl()->grad_fn = std::move(node);
  output.impl()->requires_grad = true;
}

// ---- backward context ------------------------------------------------------------------------------
const TensorImpl& BackwardContext::input(int i) const { return *node_.inputs[i]; }
size_t BackwardContext::num_inputs() const { return node_.inputs.size(); }

bool BackwardContext::needs_grad(int i) const {
  const auto& in = node_.inputs[i];
  return in && in->requires_grad;
}

namespace {
// slot += grad (both of the tensor's floating dtype), in place when nobody else can see slot's buffer,
// otherwise into a fresh tensor. The loop (vectorized by the compiler) rather than xt::noalias(slot) += grad:
// xtensor took 1.2-1.8x its time on [256, 1024] float32 (bench/xtensor_vs_loops, 2026-12-02).
void accumulate(Tensor& slot, Tensor grad) {
  if (!slot.defined()) {
    slot = std::move(grad);
  } else if (slot.impl_ptr().use_count() == 1 && slot.impl()->storage.use_count() == 1) {
    detail::visit_floating("backward", slot.dtype(), [&]<class T>() {
      T* s = slot.impl()->data<T>();
      const T* g = grad.impl()->data<T>();
      const int64_t n = slot.numel();
      for (int64_t k = 0; k < n; ++k) s[k] += g[k];
    });
  } else {
    slot = add(slot, grad);
  }
}
}  // namespace

void BackwardContext::add_grad(int i, Tensor grad) {
  TensorImpl* in = node_.inputs[i].get();
  if (!in || !in->requires_grad) return;
  detail::check(grad.shape() == in->shape, "{} backward: gradient for input {} has shape {}, expected {}", node_.name,
                i, grad.shape(), in->shape);
  // A gradient has its tensor's dtype (as PyTorch's validate_outputs): an op that computed in a wider dtype
  // (float32 + float64 -> float64) hands back float64, and the float32 input receives float32.
  if (grad.dtype() != in->dtype) grad = detail::cast(grad, in->dtype);
  if (detail::t_anomaly_enabled) [[unlikely]]
    detail::anomaly_check_gradient(grad, node_.name, node_.time_step, i);
  accumulate(in->grad_in_flight, std::move(grad));
}

void BackwardContext::add_grad_narrow(int i, int axis, int64_t start, const Tensor& piece_in) {
  TensorImpl* in = node_.inputs[i].get();
  if (!in || !in->requires_grad) return;
  const Tensor piece = detail::cast(piece_in, in->dtype);
  const Shape& full = in->shape;
  bool fits = piece.dim() == full.size() && axis >= 0 && axis < full.size() && start >= 0 &&
              start + piece.shape()[axis] <= full[axis];
  for (int d = 0; fits && d < full.size(); ++d) fits = d == axis || piece.shape()[d] == full[d];
  detail::check(fits, "{} backward: gradient slice {} at offset {} of axis {} does not fit input {} of shape {}",
                node_.name, piece.shape(), start, axis, i, full);
  if (detail::t_anomaly_enabled) [[unlikely]]
    detail::anomaly_check_gradient(piece, node_.name, node_.time_step, i);
  Tensor& slot = in->grad_in_flight;
  if (!slot.defined())
    slot = zeros(full, in->dtype);
  else if (slot.impl_ptr().use_count() != 1 || slot.impl()->storage.use_count() != 1)
    slot = clone(slot);  // someone else sees this buffer: write into our own copy
  // full viewed as [outer, n, inner]; the piece covers rows [start, start + len) of every outer block
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= full[d];
  for (int d = axis + 1; d < full.size(); ++d) inner *= full[d];
  const int64_t n = full[axis], run = piece.shape()[axis] * inner;
  detail::visit_floating("backward", in->dtype, [&]<class T>() {
    T* dst = slot.impl()->data<T>();
    const T* src = piece.impl()->data<T>();
    for (int64_t o = 0; o < outer; ++o) {
      T* d = dst + (o * n + start) * inner;
      const T* p = src + o * run;
      for (int64_t k = 0; k < run; ++k) d[k] += p[k];
    }
  });
}

}  // namespace unroll

// Products dB_i = A_i^T dC_i (or dC_i^T A_i) waiting to be summed as one GEMM; see add_matmul_grad.
struct unroll::PendingMatmulGrad {
  bool transpose_b = false;
  std::vector<Tensor> a;       // [M_i, K]
  std::vector<Tensor> grad_c;  // [M_i, N]
};

namespace unroll {

namespace {
// dB = A^T dC ([K, N]), or dC^T A ([N, K]) when transpose_b; A: [M, K], dC: [M, N], all one floating dtype.
Tensor weight_gradient(const Shape& shape, const Tensor& a, const Tensor& grad_c, bool transpose_b) {
  const int64_t m = a.size(0), k = a.size(1), n = grad_c.size(1);
  Tensor grad = empty(shape, a.dtype());
  detail::visit_floating("matmul backward", a.dtype(), [&]<class T>() {
    const T *pa = a.impl()->data<T>(), *pc = grad_c.impl()->data<T>();
    T* pg = grad.impl()->data<T>();
    if (!transpose_b)  // dB[K, N] = A^T dC
      detail::gemm(true, false, k, n, m, T(1), pa, k, pc, n, T(0), pg, n);
    else  // dB[N, K] = dC^T A
      detail::gemm(true, false, n, k, m, T(1), pc, n, pa, k, T(0), pg, k);
  });
  return grad;
}
}  // namespace

void BackwardContext::add_matmul_grad(int i, Tensor a, Tensor grad_c, bool transpose_b) {
  TensorImpl* in = node_.inputs[i].get();
  if (!in || !in->requires_grad) return;
  // leading dims of A and dC fold into rows: [..., M, K] -> [M', K]
  a = reshape(a, {a.numel() / a.shape().back(), a.shape().back()});
  grad_c = reshape(grad_c, {grad_c.numel() / grad_c.shape().back(), grad_c.shape().back()});
  auto& pending = in->pending_matmul_grad;
  // Mixed layouts, or anomaly mode (which checks each product as its own gradient): compute it right away.
  if ((pending && pending->transpose_b != transpose_b) || detail::t_anomaly_enabled) {
    add_grad(i, weight_gradient(in->shape, a, grad_c, transpose_b));
    return;
  }
  if (!pending) {
    pending = std::make_shared<PendingMatmulGrad>();
    pending->transpose_b = transpose_b;
  }
  pending->a.push_back(std::move(a));
  pending->grad_c.push_back(std::move(grad_c));
}

namespace {
// Rows of every part, one after another: [sum of M_i, width].
Tensor stack_rows(const std::vector<Tensor>& parts) {
  if (parts.size() == 1) return parts[0];
  int64_t rows = 0;
  const int64_t width = parts[0].size(1);
  for (const Tensor& p : parts) rows += p.size(0);
  Tensor out = empty({rows, width}, parts[0].dtype());
  auto* dst = static_cast<char*>(out.data_ptr());
  for (const Tensor& p : parts) {
    const size_t bytes = static_cast<size_t>(p.numel() * p.element_size());
    std::memcpy(dst, p.data_ptr(), bytes);
    dst += bytes;
  }
  return out;
}

// Sums the collected products into impl's incoming gradient with one GEMM over all stacked rows.
void flush_matmul_grads(TensorImpl& impl) {
  const std::shared_ptr<PendingMatmulGrad> pending = std::move(impl.pending_matmul_grad);
  impl.pending_matmul_grad = nullptr;
  const Tensor a = stack_rows(pending->a), grad_c = stack_rows(pending->grad_c);  // [M, K], [M, N]
  accumulate(impl.grad_in_flight, weight_gradient(impl.shape, a, grad_c, pending->transpose_b));
}
}  // namespace

// ---- the engine ------------------------------------------------------------------------------------
namespace {

// Reverse topological order of every tensor that requires grad and is reachable from the roots.
// Iterative depth-first search: graphs tens of thousands of nodes deep never touch the call stack.
std::vector<std::shared_ptr<TensorImpl>> topological_order(const std::vector<Tensor>& roots, uint64_t mark) {
  std::vector<std::shared_ptr<TensorImpl>> postorder;
  struct Frame {
    TensorImpl* impl;
    size_t next_input;
  };
  std::vector<Frame> stack;
  std::vector<std::shared_ptr<TensorImpl>> holders;  // keeps stacked tensors alive while we walk
  for (const Tensor& root : roots) {
    if (root.impl()->visit_mark == mark) continue;
    root.impl()->visit_mark = mark;
    stack.push_back({root.impl(), 0});
    holders.push_back(root.impl_ptr());
    while (!stack.empty()) {
      Frame& top = stack.back();
      Node* node = top.impl->grad_fn.get();
      if (node && node->released)
        throw Error(
            fmt::format("backward: trying to backward through the graph a second time (op '{}'); its saved values were "
                        "freed by the first backward. Pass retain_graph = true to the first call.",
                        node->name));
      if (node && top.next_input < node->inputs.size()) {
        const auto& in = node->inputs[top.next_input++];
        if (in && in->requires_grad && in->visit_mark != mark) {
          in->visit_mark = mark;
          stack.push_back({in.get(), 0});
          holders.push_back(in);
        }
        continue;
      }
      // all inputs done: the tensor goes after everything it depends on
      postorder.push_back(std::move(holders.back()));
      holders.pop_back();
      stack.pop_back();
    }
  }
  return {postorder.rbegin(), postorder.rend()};
}

// Throws when an in-place op modified one of the node's inputs, or its output, after the node was recorded:
// the backward would read values that are gone (as PyTorch's "one of the variables needed for gradient
// computation has been modified by an inplace operation"). Called only when the in-place clock moved since.
void check_not_modified(const Node& node, const TensorImpl& output) {
  const auto modified = [&](const TensorImpl& t) { return t.storage && t.storage->modified_at > node.recorded_at; };
  const auto refuse = [&](const std::string& what, const TensorImpl& t) {
    detail::fail(
        "backward: {} of '{}' ({} tensor of shape {}) was modified in place by {} after '{}' recorded it (it is at "
        "version {}); the values its gradient needs are gone. Modify a clone() instead, or call backward() first",
        what, node.name, name(t.dtype), t.shape, t.storage->modified_by, node.name, t.storage->version);
  };
  for (size_t i = 0; i < node.inputs.size(); ++i)
    if (node.inputs[i] && modified(*node.inputs[i])) refuse(fmt::format("input {}", i), *node.inputs[i]);
  if (modified(output)) refuse("the output", output);
}

}  // namespace

void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& seeds, bool retain_graph) {
  detail::check(roots.size() == seeds.size(), "backward: got {} roots but {} seeds", roots.size(), seeds.size());
  for (size_t r = 0; r < roots.size(); ++r) {
    const Tensor& root = roots[r];
    detail::check(root.defined(), "backward: called on an undefined tensor");
    detail::check(root.requires_grad(),
                  "backward: tensor of shape {} does not require grad and has no grad_fn (did you forget "
                  "requires_grad_() on a leaf, or run the forward under NoGradGuard?)",
                  root.shape());
    if (seeds[r].defined())
      detail::check(seeds[r].shape() == root.shape(),
                    "backward: seed gradient has shape {} but the tensor has shape {}", seeds[r].shape(), root.shape());
    else
      detail::check(root.numel() == 1,
                    "backward: grad can be implicitly created only for a one-element output; this tensor has shape "
                    "{}: pass a seed gradient of that shape",
                    root.shape());
  }
  NoGradGuard no_grad;  // gradients are plain values; no graph of the backward pass is recorded
  // Vanishing gradients decay into denormals, which x86 computes ~100x slower: flush them for the pass.
  detail::FlushDenormalsScope flush_denormals;
  const uint64_t mark = g_pass_counter.fetch_add(1, std::memory_order_relaxed) + 1;
  std::vector<std::shared_ptr<TensorImpl>> order = topological_order(roots, mark);
  // The leaves (the parameters) do not change during the pass: a product that reads one as its right operand
  // at every step (an RNN's dh = dG W_hh) packs it once for all of them (detail::PackedWeightsScope).
  std::vector<detail::PackedWeightsScope::Weight> leaves;
  for (const auto& impl : order)
    if (!impl->grad_fn && impl->dtype == kFloat32 && impl->storage)
      leaves.push_back({static_cast<const float*>(impl->storage->data), impl->storage->nbytes / int64_t{sizeof(float)}});
  const detail::PackedWeightsScope packed_leaves(leaves.data(), static_cast<int64_t>(leaves.size()));
  // If a backward function throws (anomaly mode does, by design), drop the partial gradients in flight so
  // that they cannot leak into the next pass through the same leaves.
  struct ClearInFlight {
    const std::vector<std::shared_ptr<TensorImpl>>& order;
    int exceptions = std::uncaught_exceptions();
    ~ClearInFlight() {
      if (std::uncaught_exceptions() <= exceptions) return;
      for (const auto& impl : order) {
        impl->grad_in_flight = Tensor();
        impl->pending_matmul_grad = nullptr;
      }
    }
  } clear_in_flight{order};
  for (size_t r = 0; r < roots.size(); ++r) {
    Tensor seed = seeds[r].defined() ? detail::cast(seeds[r].detach(), roots[r].dtype())
                                     : ones(roots[r].shape(), roots[r].dtype());
    accumulate(roots[r].impl()->grad_in_flight, std::move(seed));
  }

  for (const auto& impl : order) {
    if (impl->pending_matmul_grad) flush_matmul_grads(*impl);  // all its consumers have run by now
    Tensor grad = std::move(impl->grad_in_flight);
    impl->grad_in_flight = Tensor();
    if (!grad.defined()) continue;  // no path from a root carried a gradient here
    Node* node = impl->grad_fn.get();
    if (!node || impl->retains_grad) {
      // Leaves (and retained non-leaves) keep the gradient; give them their own buffer so later in-place
      // updates (accumulation, clipping) never write into a tensor someone else can see.
      accumulate(impl->grad, grad.impl()->storage.use_count() == 1 ? grad : clone(grad));
    }
    if (!node) continue;
    if (node->recorded_at != detail::inplace_clock.load(std::memory_order_relaxed)) [[unlikely]]
      check_not_modified(*node, *impl);
    BackwardContext ctx(*node, *impl, grad);
    node->backward(ctx);
    if (!retain_graph) {
      node->backward = nullptr;  // frees the values the op saved
      node->inputs.clear();
      node->released = true;
    }
  }
}

void Tensor::backward(const Tensor& seed, bool retain_graph) const { unroll::backward({*this}, {seed}, retain_graph); }

}  // namespace unroll
