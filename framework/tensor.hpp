// unroll/framework/tensor.hpp: Tensor, the value type of unroll, and the data it points at.
//
// A Tensor is a handle (shared pointer) to a TensorImpl: a contiguous row-major array of one dtype
// (bool, int64, float32 or float64, chosen at run time: dtype.hpp) plus, when it takes part in autograd,
// its gradient and a link to the Node (op) that produced it. Copying a Tensor copies the handle, not the
// data, exactly like torch::Tensor.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "unroll/framework/config.hpp"
#include "unroll/framework/dtype.hpp"
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
// Throws unroll::Error: "Tensor::data: the tensor holds int64 values; data<float>() reads float32" (typed
// access with a T that is not the tensor's dtype). Out of line for the same reason.
[[noreturn]] void throw_dtype_mismatch(const char* accessor, DType have, DType asked);
[[noreturn]] void throw_not_one_element(const Shape& shape);
// The row-major offset of `index` in a tensor of `shape`, or an Error naming `accessor` when out of range.
int64_t checked_offset(const char* accessor, const Shape& shape, std::initializer_list<int64_t> index);
}  // namespace detail

// A contiguous, 64-byte aligned buffer of `nbytes` bytes; the TensorImpl that points at it says what the
// bytes are (its dtype). Reshape and detach share it; every other op writes a new one. Buffers come from a
// per-thread cache of recently freed blocks (framework/tensor.cpp), so a training loop that makes the same
// shapes every step stops calling malloc after its first step.
struct Storage {
  explicit Storage(int64_t nbytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data = nullptr;
  int64_t nbytes = 0;
  int size_class = 0;   // which cache bucket the block returns to
  void* home = nullptr;  // the cache of the thread that allocated the block (framework/tensor.cpp)
  // In-place modifications of these bytes (PyTorch's version counter, shared by every tensor viewing the
  // buffer: reshape, detach). Bumped by the in-place methods (fill_, add_, ...; framework/ops/inplace.cpp),
  // not by writes through data<T>() (optimizers, init:: helpers write that way, outside this mechanism).
  int64_t version = 0;
  // When the last in-place op ran, on a process-wide clock that every recorded Node also reads: backward
  // refuses to run a node whose inputs or output were modified after it was recorded (autograd.cpp).
  uint64_t modified_at = 0;
  const char* modified_by = "";  // the in-place op that did it ("add_"), for that error message
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
  DType dtype() const;
  bool is_floating_point() const { return unroll::is_floating_point(dtype()); }
  int64_t element_size() const { return unroll::element_size(dtype()); }
  // The values converted to `dtype` (a new tensor), or this tensor itself when it already has that dtype.
  // Differentiable between floating dtypes: the gradient is converted back (as torch's .to()).
  Tensor to(DType dtype) const;

  // Typed access to the contiguous row-major values. T must be the C++ type of dtype() (bool, int64_t,
  // float, double; float is the default, the default dtype's): another T throws Error naming both.
  template <class T = float>
  T* data();
  template <class T = float>
  const T* data() const;
  void* data_ptr();  // untyped
  const void* data_ptr() const;
  template <class T = float>
  T item() const;  // the value of a one-element tensor
  template <class T = float>
  T at(std::initializer_list<int64_t> index) const;  // one element, bounds-checked
  template <class T = float>
  std::vector<T> to_vector() const;  // a copy of the values in row-major order
  std::string to_string() const;     // values, shape and (unless float32) dtype, for printing

  // ---- autograd ----------------------------------------------------------------------------------
  bool requires_grad() const;
  Tensor& requires_grad_(bool on = true);  // only on leaves (tensors no op produced)
  bool is_leaf() const;                    // not produced by a recorded op
  // The accumulated gradient: set on leaves that require grad and on tensors that called retain_grad().
  // Undefined until a backward pass reaches the tensor.
  Tensor grad() const;
  // Replaces the gradient (PyTorch's `p.grad = g`): g must have this tensor's shape and dtype; an undefined
  // g clears it. The tensor keeps a detached handle on g's buffer; later backward passes accumulate into a
  // copy, never into g itself.
  void set_grad(const Tensor& grad);
  void zero_grad();    // drops the accumulated gradient (it reads as undefined afterwards)
  void retain_grad();  // keep dL/d(this) for a non-leaf after backward (leaves always keep theirs)
  // Reverse-mode differentiation from this tensor. Without a seed the tensor must hold one element and
  // the seed is 1. Gradients accumulate into .grad() of every leaf that requires grad. Unless
  // retain_graph, the graph's saved values are freed as the pass goes and a second pass throws.
  void backward(const Tensor& seed = Tensor(), bool retain_graph = false) const;
  Tensor detach() const;             // same data, no history, requires_grad false
  const char* grad_fn_name() const;  // name of the op that produced it, or "" for a leaf
  // How many in-place ops have modified this tensor's buffer (PyTorch's `_version`; shared with every
  // tensor viewing the same buffer, e.g. its reshapes and detach()).
  int64_t version() const;

  // ---- in-place ops (framework/ops/inplace.cpp) ---------------------------------------------------
  // For code outside the graph: initialization, masks, statistics, gradients, updates under NoGradGuard.
  // They overwrite this tensor's buffer (so every view of it: reshape, detach) and return *this. They are
  // not recorded: with grad mode on, a tensor that requires grad is refused (Error naming the op and the
  // shape; run them under NoGradGuard, as optimizers do, or use the out-of-place op). Each bumps version();
  // a backward pass that reaches an op which recorded this tensor (as input or output) before the
  // modification throws Error instead of computing a wrong gradient (PyTorch's check; autograd.hpp).
  // The result keeps this tensor's dtype: `other` and the numbers are converted, and a value that cannot be
  // converted without losing its kind (a floating value into an int64 tensor, a number into a bool one) is
  // refused, as PyTorch's "result type Float can't be cast to the desired output type Long".
  const Tensor& fill_(Scalar value) const;  // every element = value
  const Tensor& zero_() const;              // every element = 0
  // Copies src's values, broadcast to this tensor's shape and converted to its dtype (any dtype to any).
  const Tensor& copy_(const Tensor& src) const;
  const Tensor& add_(const Tensor& other, Scalar alpha = 1) const;  // this += alpha * other (broadcast)
  const Tensor& add_(Scalar other) const;                           // this += other
  const Tensor& mul_(const Tensor& other) const;                    // this *= other (broadcast)
  const Tensor& mul_(Scalar other) const;                           // this *= other
  const Tensor& clamp_(Scalar min, Scalar max) const;               // this = min(max(this, min), max)

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
  DType dtype = kFloat32;
  // A C++ number an operator turned into a rank-0 tensor (x * 0.5): it takes part in type promotion as a
  // Python number does in PyTorch, so it can turn an integer tensor into a floating one but never widens
  // float32 to float64 (detail::result_type).
  bool wrapped_number = false;
  std::shared_ptr<Storage> storage;
  bool requires_grad = false;
  bool retains_grad = false;
  std::shared_ptr<Node> grad_fn;  // the op that produced this tensor; null for leaves
  Tensor grad;                    // accumulated dL/d(this)
  // Engine bookkeeping for one backward pass (see autograd.cpp).
  Tensor grad_in_flight;
  std::shared_ptr<PendingMatmulGrad> pending_matmul_grad;  // matmul products not yet summed into it
  uint64_t visit_mark = 0;

  // Unchecked typed access for kernels that have already dispatched on `dtype`.
  template <class T>
  T* data() const {
    return static_cast<T*>(storage->data);
  }
};

inline const Shape& Tensor::shape() const {
  if (!impl_) [[unlikely]]
    detail::throw_undefined_tensor("shape");
  return impl_->shape;
}
inline DType Tensor::dtype() const {
  if (!impl_) [[unlikely]]
    detail::throw_undefined_tensor("dtype");
  return impl_->dtype;
}
template <class T>
inline T* Tensor::data() {
  if (!impl_) [[unlikely]]
    detail::throw_undefined_tensor("data");
  if (impl_->dtype != dtype_of<T>()) [[unlikely]]
    detail::throw_dtype_mismatch("data", impl_->dtype, dtype_of<T>());
  return static_cast<T*>(impl_->storage->data);
}
template <class T>
inline const T* Tensor::data() const {
  return const_cast<Tensor*>(this)->data<T>();
}
inline void* Tensor::data_ptr() {
  if (!impl_) [[unlikely]]
    detail::throw_undefined_tensor("data_ptr");
  return impl_->storage->data;
}
inline const void* Tensor::data_ptr() const { return const_cast<Tensor*>(this)->data_ptr(); }
template <class T>
inline T Tensor::item() const {
  const T* p = data<T>();
  if (numel() != 1) [[unlikely]]
    detail::throw_not_one_element(shape());
  return p[0];
}
template <class T>
inline T Tensor::at(std::initializer_list<int64_t> index) const {
  const T* p = data<T>();
  return p[detail::checked_offset("at", shape(), index)];
}
template <class T>
inline std::vector<T> Tensor::to_vector() const {
  const T* p = data<T>();
  return std::vector<T>(p, p + numel());
}

// ---- creation ---------------------------------------------------------------------------------------
// Every creation function takes a dtype; without one, floating values get the default dtype (float32
// unless set_default_dtype changed it) and integers int64, as in PyTorch.
Tensor empty(const Shape& shape, DType dtype = get_default_dtype());  // uninitialized values
Tensor zeros(const Shape& shape, DType dtype = get_default_dtype());
Tensor ones(const Shape& shape, DType dtype = get_default_dtype());
// Every element `value`: full({2}, 7) is int64, full({2}, 0.5) the default dtype, or the dtype given.
Tensor full(const Shape& shape, Scalar value);
Tensor full(const Shape& shape, Scalar value, DType dtype);
Tensor zeros_like(const Tensor& t);  // t's shape and dtype
Tensor zeros_like(const Tensor& t, DType dtype);
Tensor ones_like(const Tensor& t);
Tensor ones_like(const Tensor& t, DType dtype);
// A rank-0 tensor (torch.tensor(value)): scalar(2.5) is float32, scalar(3) int64, scalar(true) bool.
Tensor scalar(Scalar value);
Tensor scalar(Scalar value, DType dtype);
// [start, end) in steps of `step`, 1-D (torch.arange). Integer arguments give int64, floating ones the
// default dtype: arange(5) is int64 [0, 1, 2, 3, 4], arange(0.0, 1.0, 0.25) float32.
Tensor arange(double start, double end, double step, DType dtype);
template <class S, class = std::enable_if_t<std::is_arithmetic_v<S>>>
Tensor arange(S end) {
  return arange(0, static_cast<double>(end), 1, dtype_for_value<S>());
}
template <class S, class = std::enable_if_t<std::is_arithmetic_v<S>>>
Tensor arange(S start, S end, S step = S(1)) {
  return arange(static_cast<double>(start), static_cast<double>(end), static_cast<double>(step), dtype_for_value<S>());
}

namespace detail {
// The values, converted to `dtype`, as a tensor of `shape` (the `tensor` templates below call these).
Tensor tensor_from(const bool* values, int64_t count, const Shape& shape, DType dtype);
Tensor tensor_from(const int64_t* values, int64_t count, const Shape& shape, DType dtype);
Tensor tensor_from(const float* values, int64_t count, const Shape& shape, DType dtype);
Tensor tensor_from(const double* values, int64_t count, const Shape& shape, DType dtype);
// The element type a C++ number of type T is read as: bool, int64_t, float or double.
template <class T>
using value_type_for = std::conditional_t<
    std::is_same_v<T, bool>, bool,
    std::conditional_t<std::is_integral_v<T>, int64_t, std::conditional_t<std::is_same_v<T, float>, float, double>>>;
template <class T, class Range>
Tensor tensor_from_range(const Range& values, int64_t count, const Shape& shape, DType dtype) {
  using V = value_type_for<T>;
  std::unique_ptr<V[]> converted(new V[count > 0 ? count : 1]);
  int64_t i = 0;
  for (const auto& v : values) converted[i++] = static_cast<V>(v);
  return tensor_from(converted.get(), count, shape, dtype);
}
}  // namespace detail

// Values in row-major order, reshaped to `shape`. The dtype follows the values' C++ type (integers:
// int64, bool: bool, floating: the default dtype) unless given.
template <class T, class = std::enable_if_t<std::is_arithmetic_v<T>>>
Tensor tensor(const std::vector<T>& values, const Shape& shape, DType dtype = dtype_for_value<T>()) {
  if constexpr (std::is_same_v<detail::value_type_for<T>, T> && !std::is_same_v<T, bool>)
    return detail::tensor_from(values.data(), static_cast<int64_t>(values.size()), shape, dtype);
  else
    return detail::tensor_from_range<T>(values, static_cast<int64_t>(values.size()), shape, dtype);
}
// 1-D: tensor({1, 2, 3}) is int64, tensor({0.5, 1.5}) float32, tensor({true, false}) bool. (Mixed literals
// such as {1, 2.5} do not compile: write 1.0.)
template <class T, class = std::enable_if_t<std::is_arithmetic_v<T>>>
Tensor tensor(std::initializer_list<T> values, DType dtype = dtype_for_value<T>()) {
  const int64_t n = static_cast<int64_t>(values.size());
  return detail::tensor_from_range<T>(values, n, Shape{n}, dtype);
}
// 2-D, rows of equal length: tensor({{0}, {1}}) is int64 [2, 1].
template <class T, class = std::enable_if_t<std::is_arithmetic_v<T>>>
Tensor tensor(std::initializer_list<std::initializer_list<T>> rows, DType dtype = dtype_for_value<T>()) {
  const int64_t n_rows = static_cast<int64_t>(rows.size());
  const int64_t n_cols = n_rows ? static_cast<int64_t>(rows.begin()->size()) : 0;
  std::vector<detail::value_type_for<T>> values;
  for (const auto& row : rows) {
    if (static_cast<int64_t>(row.size()) != n_cols) [[unlikely]]
      throw Error("tensor: rows have different lengths (" + std::to_string(n_cols) + " and " +
                  std::to_string(row.size()) + ")");
    for (const T& v : row) values.push_back(static_cast<detail::value_type_for<T>>(v));
  }
  return detail::tensor_from_range<T>(values, n_rows * n_cols, Shape{n_rows, n_cols}, dtype);
}

std::ostream& operator<<(std::ostream& os, const Tensor& t);

}  // namespace unroll
