// unroll/framework/tensor.hpp: Tensor, the value type of unroll, and the data it points at.
//
// A Tensor is a handle (shared pointer) to a TensorImpl: a contiguous row-major array of `real` plus,
// when it takes part in autograd, its gradient and a link to the Node (op) that produced it. Copying a
// Tensor copies the handle, not the data, exactly like torch::Tensor.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "unroll/framework/config.hpp"
#include "unroll/framework/error.hpp"
#include "unroll/framework/shape.hpp"

namespace unroll {

struct Node;
struct PendingMatmulGrad;
struct TensorImpl;

namespace detail {
// Throws unroll::Error: "Tensor::<accessor>: the tensor is undefined ...". Every accessor that reads a
// Tensor's value or autograd state calls it when the handle is null, so an undefined tensor handed to any
// op or layer is refused with an Error rather than dereferenced (ops also name themselves first, see
// detail::check_defined). Out of line, so the check in the inline accessors is one compare and branch.
[[noreturn]] void throw_undefined_tensor(const char* accessor);
}  // namespace detail

// A contiguous buffer of `size` reals. Reshape and detach share it; every other op writes a new one.
// Buffers come from a per-thread cache of recently freed blocks (framework/tensor.cpp), so a training
// loop that makes the same shapes every step stops calling malloc after its first step.
struct Storage {
  explicit Storage(int64_t size);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  real* data = nullptr;
  int64_t size = 0;
  int size_class = 0;  // which cache bucket the block returns to
};

// Bytes currently held by this thread's cache of free buffers, and a way to return them to the system.
int64_t cached_buffer_bytes();
void release_cached_buffers();

// Number of Storage buffers alive on all threads (tensors sharing a buffer count it once; blocks parked
// in the caches do not count). Tests use it with live_node_count() to prove that graphs and their saved
// values are freed.
int64_t live_buffer_count();

// The largest tensor empty() (and so every op) agrees to allocate: 2^40 bytes. Larger shapes, and shapes
// whose element count overflows, throw Error naming the shape instead of attempting the allocation.
constexpr int64_t kMaxTensorBytes = int64_t{1} << 40;

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor (like a default torch::Tensor): defined() is false
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- value -------------------------------------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int dim() const { return shape().size(); }
  int64_t size(int axis) const;  // negative axes count from the end
  int64_t numel() const { return shape().numel(); }
  real* data();  // contiguous row-major values
  const real* data() const;
  real item() const;                                // the value of a one-element tensor
  real at(std::initializer_list<int64_t> index) const;  // one element, bounds-checked
  std::vector<real> to_vector() const;              // a copy of the values in row-major order
  std::string to_string() const;                    // values and shape, for printing

  // ---- autograd ----------------------------------------------------------------------------------
  bool requires_grad() const;
  Tensor& requires_grad_(bool on = true);  // only on leaves (tensors no op produced)
  bool is_leaf() const;                    // not produced by a recorded op
  // The accumulated gradient: set on leaves that require grad and on tensors that called retain_grad().
  // Undefined until a backward pass reaches the tensor.
  Tensor grad() const;
  void zero_grad();      // drops the accumulated gradient (it reads as undefined afterwards)
  void retain_grad();    // keep dL/d(this) for a non-leaf after backward (leaves always keep theirs)
  // Reverse-mode differentiation from this tensor. Without a seed the tensor must hold one element and
  // the seed is 1. Gradients accumulate into .grad() of every leaf that requires grad. Unless
  // retain_graph, the graph's saved values are freed as the pass goes and a second pass throws.
  void backward(const Tensor& seed = Tensor(), bool retain_graph = false) const;
  Tensor detach() const;  // same data, no history, requires_grad false
  const char* grad_fn_name() const;  // name of the op that produced it, or "" for a leaf

  // ---- method spellings of common ops (the free functions in ops.hpp are the primary API) --------
  Tensor reshape(const Shape& shape) const;
  Tensor sum() const;
  Tensor mean() const;
  Tensor transpose(int axis0, int axis1) const;
  Tensor t() const;  // transpose of a 2-D tensor

  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// What a Tensor points at. Ops and the engine use it directly; users rarely need to.
struct TensorImpl {
  Shape shape;
  std::shared_ptr<Storage> storage;
  bool requires_grad = false;
  bool retains_grad = false;
  std::shared_ptr<Node> grad_fn;  // the op that produced this tensor; null for leaves
  Tensor grad;                    // accumulated dL/d(this)
  // Engine bookkeeping for one backward pass (see autograd.cpp).
  Tensor grad_in_flight;
  std::shared_ptr<PendingMatmulGrad> pending_matmul_grad;  // matmul products not yet summed into it
  uint64_t visit_mark = 0;

  real* data() const { return storage->data; }
};

inline const Shape& Tensor::shape() const {
  if (!impl_) [[unlikely]]
    detail::throw_undefined_tensor("shape");
  return impl_->shape;
}
inline real* Tensor::data() {
  if (!impl_) [[unlikely]]
    detail::throw_undefined_tensor("data");
  return impl_->storage->data;
}
inline const real* Tensor::data() const {
  if (!impl_) [[unlikely]]
    detail::throw_undefined_tensor("data");
  return impl_->storage->data;
}

// ---- creation ---------------------------------------------------------------------------------------
Tensor empty(const Shape& shape);  // uninitialized values
Tensor zeros(const Shape& shape);
Tensor ones(const Shape& shape);
Tensor full(const Shape& shape, real value);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor scalar(real value);  // a rank-0 tensor
// [start, end) in steps of `step`, 1-D (like torch.arange).
Tensor arange(real start, real end, real step = 1);
Tensor arange(int64_t end);
// Values in row-major order, reshaped to `shape` (shape defaults to 1-D).
Tensor tensor(const std::vector<real>& values, const Shape& shape);
Tensor tensor(std::initializer_list<real> values);
// 2-D, rows of equal length. (Rows of one element, {{1}, {2}}, are ambiguous with the 1-D overload:
// write tensor({1, 2}).reshape({2, 1}).)
Tensor tensor(std::initializer_list<std::initializer_list<real>> rows);

std::ostream& operator<<(std::ostream& os, const Tensor& t);

}  // namespace unroll
