#include "unroll/framework/tensor.hpp"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <ostream>

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/block_pool.hpp"
#include "unroll/framework/detail/check.hpp"
#include "unroll/framework/ops.hpp"

namespace unroll {

using detail::check;

// ---- storage ---------------------------------------------------------------------------------------
namespace {

// Block sizes: multiples of 64 bytes up to 1 KiB (classes 1..16), then 8 classes per power of two, so a
// block is never more than 12.5% larger than asked for.
constexpr int kSizeClasses = 16 + 8 * 54 + 9;

size_t class_bytes(size_t bytes, int& size_class) {
  if (bytes <= 1024) {
    const size_t k = (bytes + 63) / 64;
    size_class = static_cast<int>(k);
    return k * 64;
  }
  const int e = 63 - __builtin_clzll(bytes - 1);  // 2^e < bytes <= 2^(e+1), e >= 10
  const size_t step = size_t{1} << (e - 3);
  const size_t k = (bytes - (size_t{1} << e) + step - 1) / step;  // 1..8
  size_class = 16 + (e - 10) * 8 + static_cast<int>(k);
  return (size_t{1} << e) + k * step;
}

// Recently freed blocks of this thread, by size class, up to kMaxBytes in all.
thread_local bool t_cache_destroyed = false;  // a plain bool: still readable while the thread exits

struct BufferCache {
  static constexpr size_t kMaxBytes = size_t{1} << 30;
  std::vector<void*> free_blocks[kSizeClasses];
  size_t total = 0;

  void release() {
    for (auto& blocks : free_blocks) {
      for (void* p : blocks) std::free(p);
      blocks.clear();
    }
    total = 0;
  }
  ~BufferCache() {
    t_cache_destroyed = true;  // tensors freed later in the thread's exit go straight to free()
    release();
  }
};
thread_local BufferCache t_cache;

BufferCache* cache() { return t_cache_destroyed ? nullptr : &t_cache; }

std::atomic<int64_t> g_live_buffers{0};  // Storage objects alive, all threads (live_buffer_count)

}  // namespace

Storage::Storage(int64_t n) : size(n) {
  // 64-byte aligned for SIMD loads; at least one element so data is never null.
  const size_t bytes = class_bytes(static_cast<size_t>(n > 0 ? n : 1) * sizeof(real), size_class);
  if (BufferCache* c = cache(); c && !c->free_blocks[size_class].empty()) {
    data = static_cast<real*>(c->free_blocks[size_class].back());
    c->free_blocks[size_class].pop_back();
    c->total -= bytes;
    g_live_buffers.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  data = static_cast<real*>(std::aligned_alloc(64, bytes));
  if (!data) throw std::bad_alloc();
  g_live_buffers.fetch_add(1, std::memory_order_relaxed);
}

Storage::~Storage() {
  g_live_buffers.fetch_sub(1, std::memory_order_relaxed);
  int ignored = 0;
  const size_t bytes = class_bytes(static_cast<size_t>(size > 0 ? size : 1) * sizeof(real), ignored);
  BufferCache* c = cache();
  if (c && c->total + bytes <= BufferCache::kMaxBytes) {
    c->free_blocks[size_class].push_back(data);
    c->total += bytes;
  } else {
    std::free(data);
  }
}

int64_t cached_buffer_bytes() {
  BufferCache* c = cache();
  return c ? static_cast<int64_t>(c->total) : 0;
}

void release_cached_buffers() {
  if (BufferCache* c = cache()) c->release();
}

int64_t live_buffer_count() { return g_live_buffers.load(std::memory_order_relaxed); }

// ---- size limit --------------------------------------------------------------------------------------
namespace {
// The element count of `shape`, or an Error naming `op` and the shape when a dimension is negative or the
// tensor would exceed kMaxTensorBytes. Zero-size dimensions are ignored while checking, so no dimension
// product of an existing tensor can overflow int64 (Shape::numel() is then always safe).
int64_t checked_numel(const char* op, const Shape& shape) {
  constexpr int64_t max_elements = kMaxTensorBytes / static_cast<int64_t>(sizeof(real));
  int64_t nominal = 1;  // product of the nonzero dimensions
  bool zero = false;
  for (int64_t d : shape) {
    check(d >= 0, "{}: negative dimension in shape {}", op, shape);
    if (d == 0) {
      zero = true;
      continue;
    }
    check(d <= max_elements && nominal <= max_elements / d,
          "{}: shape {} is too large (over {} bytes of {}-byte elements); refusing to allocate it", op, shape,
          kMaxTensorBytes, sizeof(real));
    nominal *= d;
  }
  return zero ? 0 : nominal;
}
}  // namespace

// ---- creation --------------------------------------------------------------------------------------
Tensor empty(const Shape& shape) {
  const int64_t n = checked_numel("empty", shape);  // refuse absurd sizes before allocating anything
  auto impl = std::allocate_shared<TensorImpl>(detail::PoolAllocator<TensorImpl>());
  impl->shape = shape;
  impl->storage = std::allocate_shared<Storage>(detail::PoolAllocator<Storage>(), n);
  return Tensor(std::move(impl));
}

Tensor full(const Shape& shape, real value) {
  Tensor t = empty(shape);
  real* p = t.data();
  for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = value;
  return t;
}

Tensor zeros(const Shape& shape) { return full(shape, 0); }
Tensor ones(const Shape& shape) { return full(shape, 1); }
Tensor zeros_like(const Tensor& t) {
  detail::check_defined("zeros_like", t);
  return zeros(t.shape());
}
Tensor ones_like(const Tensor& t) {
  detail::check_defined("ones_like", t);
  return ones(t.shape());
}
Tensor scalar(real value) { return full(Shape{}, value); }

Tensor arange(real start, real end, real step) {
  check(step != 0, "arange: step must be nonzero");
  const double count = std::ceil((static_cast<double>(end) - start) / step);
  check(!(count > static_cast<double>(kMaxTensorBytes)), "arange: [{}, {}) in steps of {} is too many elements",
        start, end, step);
  const int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
  Tensor t = empty({n});
  for (int64_t i = 0; i < n; ++i) t.data()[i] = static_cast<real>(start + i * static_cast<double>(step));
  return t;
}

Tensor arange(int64_t end) { return arange(0, static_cast<real>(end), 1); }

Tensor tensor(const std::vector<real>& values, const Shape& shape) {
  const int64_t n = checked_numel("tensor", shape);
  check(static_cast<int64_t>(values.size()) == n, "tensor: {} values do not fill shape {} ({} elements)",
        values.size(), shape, n);
  Tensor t = empty(shape);
  if (!values.empty()) std::memcpy(t.data(), values.data(), values.size() * sizeof(real));
  return t;
}

Tensor tensor(std::initializer_list<real> values) {
  return tensor(std::vector<real>(values), Shape{static_cast<int64_t>(values.size())});
}

Tensor tensor(std::initializer_list<std::initializer_list<real>> rows) {
  const int64_t n_rows = static_cast<int64_t>(rows.size());
  const int64_t n_cols = n_rows ? static_cast<int64_t>(rows.begin()->size()) : 0;
  std::vector<real> values;
  values.reserve(n_rows * n_cols);
  for (const auto& row : rows) {
    check(static_cast<int64_t>(row.size()) == n_cols, "tensor: rows have different lengths ({} and {})", n_cols,
          row.size());
    values.insert(values.end(), row.begin(), row.end());
  }
  return tensor(values, Shape{n_rows, n_cols});
}

// ---- undefined tensors -----------------------------------------------------------------------------
namespace detail {
void throw_undefined_tensor(const char* accessor) {
  throw Error(
      fmt::format("Tensor::{}: the tensor is undefined (a default-constructed Tensor() has no value); "
                  "pass a tensor made by an op or a creation function",
                  accessor));
}
void throw_undefined_argument(const char* op, int position) {
  throw Error(fmt::format("{}: argument {} is an undefined tensor (a default-constructed Tensor() has no value)", op,
                          position));
}
}  // namespace detail

namespace {
// The impl behind t, or an Error naming the accessor when t is undefined.
TensorImpl& impl_of(const Tensor& t, const char* accessor) {
  if (!t.defined()) [[unlikely]]
    detail::throw_undefined_tensor(accessor);
  return *t.impl();
}
}  // namespace

// ---- value access ----------------------------------------------------------------------------------
int64_t Tensor::size(int axis) const {
  return shape()[detail::normalize_axis("size", axis, dim(), shape())];
}

real Tensor::item() const {
  check(defined(), "item: the tensor is undefined");
  check(numel() == 1, "item: a tensor of shape {} has {} elements, not one", shape(), numel());
  return data()[0];
}

real Tensor::at(std::initializer_list<int64_t> index) const {
  check(static_cast<int>(index.size()) == dim(), "at: {} indices given for a tensor of shape {}", index.size(), shape());
  int64_t offset = 0;
  int axis = 0;
  for (int64_t i : index) {
    const int64_t n = shape()[axis];
    check(i >= -n && i < n, "at: index {} is out of range for axis {} of shape {}", i, axis, shape());
    offset = offset * n + (i < 0 ? i + n : i);
    ++axis;
  }
  return data()[offset];
}

std::vector<real> Tensor::to_vector() const { return {data(), data() + numel()}; }

namespace {
void print_values(std::string& out, const real* p, const Shape& s, int axis, int64_t& offset) {
  if (axis == s.size()) {
    out += fmt::format("{:.6g}", p[offset++]);
    return;
  }
  out += "[";
  for (int64_t i = 0; i < s[axis]; ++i) {
    if (i) out += axis + 1 == s.size() ? ", " : ",\n ";
    print_values(out, p, s, axis + 1, offset);
  }
  out += "]";
}
}  // namespace

std::string Tensor::to_string() const {
  if (!defined()) return "Tensor(undefined)";
  std::string out = "Tensor(";
  if (numel() <= 1000) {
    int64_t offset = 0;
    print_values(out, data(), shape(), 0, offset);
    out += ", ";
  }
  out += fmt::format("shape={}", shape());
  if (requires_grad()) out += is_leaf() ? ", requires_grad" : fmt::format(", grad_fn={}", grad_fn_name());
  return out + ")";
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.to_string(); }

// ---- autograd accessors ----------------------------------------------------------------------------
bool Tensor::requires_grad() const { return impl_of(*this, "requires_grad").requires_grad; }
bool Tensor::is_leaf() const { return impl_of(*this, "is_leaf").grad_fn == nullptr; }
Tensor Tensor::grad() const { return impl_of(*this, "grad").grad; }
void Tensor::zero_grad() { impl_of(*this, "zero_grad").grad = Tensor(); }
const char* Tensor::grad_fn_name() const {
  const TensorImpl& impl = impl_of(*this, "grad_fn_name");
  return impl.grad_fn ? impl.grad_fn->name : "";
}

Tensor& Tensor::requires_grad_(bool on) {
  impl_of(*this, "requires_grad_");
  check(is_leaf(), "requires_grad_: only leaf tensors can change requires_grad (this one was produced by '{}'); use "
        "detach() first", grad_fn_name());
  impl_->requires_grad = on;
  return *this;
}

void Tensor::retain_grad() {
  check(requires_grad(), "retain_grad: tensor of shape {} does not require grad", shape());
  impl_->retains_grad = true;
}

Tensor Tensor::detach() const {
  impl_of(*this, "detach");
  auto impl = std::allocate_shared<TensorImpl>(detail::PoolAllocator<TensorImpl>());
  impl->shape = impl_->shape;
  impl->storage = impl_->storage;
  return Tensor(std::move(impl));
}

Tensor Tensor::reshape(const Shape& s) const { return unroll::reshape(*this, s); }
Tensor Tensor::sum() const { return unroll::sum(*this); }
Tensor Tensor::mean() const { return unroll::mean(*this); }
Tensor Tensor::transpose(int a, int b) const { return unroll::transpose(*this, a, b); }
Tensor Tensor::t() const {
  check(dim() == 2, "t: expects a 2-D tensor, got shape {}", shape());
  return unroll::transpose(*this, 0, 1);
}

}  // namespace unroll
