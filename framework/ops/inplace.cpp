// In-place ops: the Tensor methods fill_, zero_, copy_, add_, mul_, clamp_ (declared in tensor.hpp).
//
// They overwrite the tensor's buffer and record nothing: they are for code outside the graph (initializing,
// masking, statistics, gradient surgery, updates under NoGradGuard). Two rules keep them from corrupting
// gradients silently:
//  - with grad mode on, a tensor that requires grad (the one written, or one read from) is refused: the
//    graph would not know about the change (PyTorch records it instead; unroll's graph has no in-place ops);
//  - each write bumps the buffer's version and stamps it with the in-place clock; the engine refuses to run
//    the backward of a node recorded before the stamp on one of its inputs or its output (autograd.cpp),
//    as PyTorch's "modified by an inplace operation" check. That check is made at backward rather than here,
//    as PyTorch does, so that a graph which is kept but never differentiated (an evaluation's outputs, a
//    retain_graph pass that is done) never blocks an update.
// Writes through data<T>() (optimizers, init:: helpers) are outside this mechanism: they do not bump the
// version, as PyTorch's `p.data` writes do not.
#include <atomic>
#include <cstring>

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/kernels.hpp"
#include "unroll/framework/ops.hpp"

namespace unroll {

namespace detail {
std::atomic<uint64_t> inplace_clock{0};
}  // namespace detail

using detail::check;

namespace {

// The impl behind `self`, after the checks every in-place op makes; `others` are the tensors it reads.
TensorImpl& writable(const char* op, const Tensor& self, std::initializer_list<const Tensor*> others = {}) {
  if (!self.defined()) [[unlikely]]
    detail::throw_undefined_tensor(op);
  int position = 1;
  for (const Tensor* t : others) {
    ++position;
    if (!t->defined()) [[unlikely]]
      detail::throw_undefined_argument(op, position);
  }
  if (is_grad_enabled()) {
    check(!self.requires_grad(),
          "{}: in-place ops are not recorded in the graph, and this tensor of shape {} requires grad; run it under "
          "NoGradGuard (as optimizer updates do), or use the out-of-place op",
          op, self.shape());
    for (const Tensor* t : others)
      check(!t->requires_grad(),
            "{}: in-place ops are not recorded in the graph, and the argument of shape {} requires grad (the tensor "
            "written has shape {}); run it under NoGradGuard, or use the out-of-place op",
            op, t->shape(), self.shape());
  }
  return *self.impl();
}

// Bumps the version of t's buffer and stamps it with the in-place clock (see autograd.hpp, Node::recorded_at).
void mark_modified(TensorImpl& t, const char* op) {
  t.storage->version += 1;
  t.storage->modified_at = detail::inplace_clock.fetch_add(1, std::memory_order_relaxed) + 1;
  t.storage->modified_by = op;
}

// PyTorch's canCast: a result may be stored into a tensor of the same kind or a wider one, never a floating
// value into an integer tensor nor a non-bool value into a bool one.
void check_castable(const char* op, DType result, const TensorImpl& self) {
  const bool ok = !(is_floating_point(result) && !is_floating_point(self.dtype)) &&
                  !(result != kBool && self.dtype == kBool);
  check(ok, "{}: result type {} can't be cast to the desired output type {} (tensor of shape {})", op, name(result),
        name(self.dtype), self.shape);
}

// `other` must broadcast to self's shape (the result keeps self's shape).
void check_broadcasts_to(const char* op, const Shape& other, const Shape& self) {
  check(detail::broadcast_shapes(op, self, other) == self, "{}: output with shape {} doesn't match the broadcast shape {}",
        op, self, detail::broadcast_shapes(op, self, other));
}

// self[i] = f(self[i], other[i]): both read as C (other broadcast to self's shape), the result converted to
// self's dtype and written in place.
template <class C, class F>
void update_with(TensorImpl& self, const Tensor& other, F f) {
  visit_dtype(self.dtype, [&]<class S>() {
    S* ps = self.data<S>();
    Tensor hold;  // a converted copy of other when its dtype is not C (made before anything is written)
    const C* po = detail::values_as<C>(other, hold);
    const auto apply = [&](int64_t i, C v) { ps[i] = detail::convert<S>(f(detail::convert<C>(ps[i]), v)); };
    const int64_t n = self.shape.numel();
    if (other.shape() == self.shape) {
      for (int64_t i = 0; i < n; ++i) apply(i, po[i]);
    } else if (other.numel() == 1) {
      const C v = po[0];
      for (int64_t i = 0; i < n; ++i) apply(i, v);
    } else {
      detail::for_each_broadcast<1>(self.shape, {detail::broadcast_strides(other.shape(), self.shape)},
                                    [&](int64_t o, const std::array<int64_t, 1>& at) { apply(o, po[at[0]]); });
    }
  });
}

}  // namespace

const Tensor& Tensor::fill_(Scalar value) const {
  TensorImpl& self = writable("fill_", *this);
  visit_dtype(self.dtype, [&]<class T>() {
    const T v = detail::scalar_as<T>(value);
    T* p = self.data<T>();
    for (int64_t i = 0, n = self.shape.numel(); i < n; ++i) p[i] = v;
  });
  mark_modified(self, "fill_");
  return *this;
}

const Tensor& Tensor::zero_() const {
  TensorImpl& self = writable("zero_", *this);
  std::memset(self.storage->data, 0, static_cast<size_t>(self.shape.numel() * unroll::element_size(self.dtype)));
  mark_modified(self, "zero_");
  return *this;
}

const Tensor& Tensor::copy_(const Tensor& src) const {
  TensorImpl& self = writable("copy_", *this, {&src});
  check_broadcasts_to("copy_", src.shape(), self.shape);
  // a copy of the source when it shares our buffer (a reshape or detach of this tensor)
  const Tensor from = src.impl()->storage == self.storage ? clone(src.detach()) : src;
  visit_dtype(from.dtype(), [&]<class V>() { update_with<V>(self, from, [](V, V v) { return v; }); });
  mark_modified(self, "copy_");
  return *this;
}

const Tensor& Tensor::add_(const Tensor& other, Scalar alpha) const {
  TensorImpl& self = writable("add_", *this, {&other});
  check_broadcasts_to("add_", other.shape(), self.shape);
  // as PyTorch, alpha does not take part in type promotion, but an integer result takes no fractional alpha
  const DType result = detail::result_type(*this, other);
  check(unroll::is_floating_point(result) || !alpha.is_floating_point(),
        "add_: for integral tensors, alpha must not be a floating point number (got {}, tensor of shape {})",
        alpha.to_double(), self.shape);
  check_castable("add_", result, self);
  visit_dtype(result, [&]<class C>() {
    const C a = detail::scalar_as<C>(alpha);
    update_with<C>(self, other, [a](C x, C y) { return detail::plus(x, detail::times(a, y)); });
  });
  mark_modified(self, "add_");
  return *this;
}

const Tensor& Tensor::add_(Scalar other) const {
  writable("add_", *this);
  return add_(detail::wrapped_scalar(other));
}

const Tensor& Tensor::mul_(const Tensor& other) const {
  TensorImpl& self = writable("mul_", *this, {&other});
  check_broadcasts_to("mul_", other.shape(), self.shape);
  const DType result = detail::result_type(*this, other);
  check_castable("mul_", result, self);
  visit_dtype(result, [&]<class C>() { update_with<C>(self, other, [](C x, C y) { return detail::times(x, y); }); });
  mark_modified(self, "mul_");
  return *this;
}

const Tensor& Tensor::mul_(Scalar other) const {
  writable("mul_", *this);
  return mul_(detail::wrapped_scalar(other));
}

const Tensor& Tensor::clamp_(Scalar min, Scalar max) const {
  TensorImpl& self = writable("clamp_", *this);
  check(!(min.to_double() > max.to_double()), "clamp_: min {} is greater than max {} (tensor of shape {})",
        min.to_double(), max.to_double(), self.shape);
  const Tensor lo = detail::wrapped_scalar(min), hi = detail::wrapped_scalar(max);
  const DType result = detail::result_type({this, &lo, &hi});
  check(result != kBool, "clamp_: not supported for bool tensors (shape {})", self.shape);
  check_castable("clamp_", result, self);
  detail::visit_numeric("clamp_", result, [&]<class C>() {
    const C a = detail::scalar_as<C>(min), b = detail::scalar_as<C>(max);
    update_with<C>(self, *this, [a, b](C v, C) { return v < a ? a : v > b ? b : v; });
  });
  mark_modified(self, "clamp_");
  return *this;
}

}  // namespace unroll
