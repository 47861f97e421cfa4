#include "unroll/framework/tensor.hpp"

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <ostream>

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/block_pool.hpp"
#include "unroll/framework/detail/check.hpp"
#include "unroll/framework/detail/dispatch.hpp"
#include "unroll/framework/detail/sharded_counter.hpp"
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

// Recently freed blocks of one thread, by size class, up to kMaxBytes in all. A block freed on another
// thread goes back to the cache it came from, through `returned` (under a lock; the owner takes them when
// its own list for a size runs out). Without that, a graph recorded on a worker thread and freed by
// backward on the caller (the two directions of a bidirectional layer) left the worker taking fresh pages
// from the system every step while the caller's cache filled up with blocks it never asked for:
// bench/rnn_bench lstm 2 32 35 128 256 1 with the directions on two threads made 24,000 page faults per
// step against 4,400 on one thread and peaked at 777 MB against 219 MB.
thread_local bool t_cache_destroyed = false;  // a plain bool: still readable while the thread exits

struct BufferCache {
  static constexpr size_t kMaxBytes = size_t{1} << 30;
  struct Returned {
    void* block;
    int size_class;
    size_t bytes;
  };
  std::vector<void*> free_blocks[kSizeClasses];
  size_t total = 0;  // bytes in free_blocks
  std::mutex returned_mutex;
  bool owned = false;              // a live thread uses this cache (guarded by returned_mutex)
  std::vector<Returned> returned;  // blocks freed on other threads (guarded by returned_mutex)
  size_t returned_bytes = 0;
  std::atomic<bool> has_returned{false};

  // Moves the blocks other threads returned into this thread's lists (the owner calls it).
  void take_returned() {
    std::lock_guard lock(returned_mutex);
    for (const Returned& r : returned) {
      if (total + r.bytes <= kMaxBytes) {
        free_blocks[r.size_class].push_back(r.block);
        total += r.bytes;
      } else {
        std::free(r.block);
      }
    }
    returned.clear();
    returned_bytes = 0;
    has_returned.store(false, std::memory_order_relaxed);
  }
  // Another thread gives back a block that came from here; false when this cache takes no more.
  bool give_back(void* block, int size_class, size_t bytes) {
    std::lock_guard lock(returned_mutex);
    if (!owned || returned_bytes + bytes > kMaxBytes) return false;
    returned.push_back({block, size_class, bytes});
    returned_bytes += bytes;
    has_returned.store(true, std::memory_order_release);
    return true;
  }
  void release() {
    take_returned();
    for (auto& blocks : free_blocks) {
      for (void* p : blocks) std::free(p);
      blocks.clear();
    }
    total = 0;
  }
};

// Caches outlive their threads, since a Storage made on a thread may be freed after it exited: an exiting
// thread empties its cache and parks it here for the next new thread. Never destroyed (readable at exit).
struct CacheRegistry {
  std::mutex mutex;
  std::vector<BufferCache*> idle;
};
CacheRegistry& registry() {
  static CacheRegistry* r = new CacheRegistry;
  return *r;
}

struct ThreadCache {
  BufferCache* cache;
  ThreadCache() {
    {
      std::lock_guard lock(registry().mutex);
      if (registry().idle.empty()) {
        cache = new BufferCache;
      } else {
        cache = registry().idle.back();
        registry().idle.pop_back();
      }
    }
    std::lock_guard lock(cache->returned_mutex);
    cache->owned = true;
  }
  ~ThreadCache() {
    t_cache_destroyed = true;  // tensors freed later in the thread's exit go straight to free()
    {
      std::lock_guard lock(cache->returned_mutex);
      cache->owned = false;
    }
    cache->release();
    std::lock_guard lock(registry().mutex);
    registry().idle.push_back(cache);
  }
};
thread_local ThreadCache t_cache;

BufferCache* cache() { return t_cache_destroyed ? nullptr : t_cache.cache; }

constinit detail::ShardedCounter g_live_buffers;  // Storage objects alive, all threads (live_buffer_count)

}  // namespace

Storage::Storage(int64_t n) : nbytes(n) {
  // 64-byte aligned for SIMD loads; at least 8 bytes (one element of any dtype) so data is never null.
  const size_t bytes = class_bytes(static_cast<size_t>(n > 8 ? n : 8), size_class);
  BufferCache* c = cache();
  home = c;
  if (c) {
    auto& blocks = c->free_blocks[size_class];
    if (blocks.empty() && c->has_returned.load(std::memory_order_acquire)) c->take_returned();
    if (!blocks.empty()) {
      data = blocks.back();
      blocks.pop_back();
      c->total -= bytes;
      g_live_buffers.add(1);
      return;
    }
  }
  data = std::aligned_alloc(64, bytes);
  if (!data) throw std::bad_alloc();
  g_live_buffers.add(1);
}

Storage::~Storage() {
  g_live_buffers.add(-1);
  int ignored = 0;
  const size_t bytes = class_bytes(static_cast<size_t>(nbytes > 8 ? nbytes : 8), ignored);
  BufferCache* c = cache();
  auto* origin = static_cast<BufferCache*>(home);
  if (c && origin == c) {
    if (c->total + bytes <= BufferCache::kMaxBytes) {
      c->free_blocks[size_class].push_back(data);
      c->total += bytes;
      return;
    }
  } else if (origin && origin->give_back(data, size_class, bytes)) {
    return;
  }
  std::free(data);
}

int64_t cached_buffer_bytes() {
  BufferCache* c = cache();
  return c ? static_cast<int64_t>(c->total) : 0;
}

void release_cached_buffers() {
  if (BufferCache* c = cache()) c->release();
}

int64_t live_buffer_count() { return g_live_buffers.total(); }

// ---- size limit --------------------------------------------------------------------------------------
namespace {
// The element count of `shape`, or an Error naming `op` and the shape when a dimension is negative or the
// tensor would exceed kMaxTensorBytes. Zero-size dimensions are ignored while checking, so no dimension
// product of an existing tensor can overflow int64 (Shape::numel() is then always safe).
int64_t checked_numel(const char* op, const Shape& shape, DType dtype) {
  constexpr int64_t max_elements_of[] = {kMaxTensorBytes, kMaxTensorBytes / 8, kMaxTensorBytes / 4,
                                         kMaxTensorBytes / 8};
  const int64_t max_elements = max_elements_of[static_cast<int>(dtype)];
  // Fast path, run at every allocation: no division (an integer division per dimension cost more than the
  // rest of this function; callgrind on bench/op_overhead).
  int64_t nominal = 1;  // product of the nonzero dimensions
  bool zero = false, fits = true;
  for (int64_t d : shape) {
    if (d == 0) {
      zero = true;
      continue;
    }
    fits = fits && d > 0 && !__builtin_mul_overflow(nominal, d, &nominal) && nominal <= max_elements;
  }
  if (fits) [[likely]]
    return zero ? 0 : nominal;
  // Slow path: say what is wrong.
  nominal = 1;
  for (int64_t d : shape) {
    check(d >= 0, "{}: negative dimension in shape {}", op, shape);
    if (d == 0) continue;
    check(d <= max_elements && nominal <= max_elements / d,
          "{}: shape {} is too large (over {} bytes of {} elements); refusing to allocate it", op, shape,
          kMaxTensorBytes, name(dtype));
    nominal *= d;
  }
  return zero ? 0 : nominal;
}
}  // namespace

// ---- default dtype ---------------------------------------------------------------------------------
namespace {
std::atomic<DType> g_default_dtype{kFloat32};
}  // namespace

std::string to_string(DType d) { return name(d); }
DType get_default_dtype() { return g_default_dtype.load(std::memory_order_relaxed); }
void set_default_dtype(DType dtype) {
  check(is_floating_point(dtype),
        "set_default_dtype: only floating dtypes (float32, float64) can be the default, got {}", name(dtype));
  g_default_dtype.store(dtype, std::memory_order_relaxed);
}

// ---- creation --------------------------------------------------------------------------------------
Tensor empty(const Shape& shape, DType dtype) {
  const int64_t n = checked_numel("empty", shape, dtype);  // refuse absurd sizes before allocating anything
  auto impl = std::allocate_shared<TensorImpl>(detail::PoolAllocator<TensorImpl>());
  impl->shape = shape;
  impl->dtype = dtype;
  impl->storage = std::allocate_shared<Storage>(detail::PoolAllocator<Storage>(), n * element_size(dtype));
  return Tensor(std::move(impl));
}

Tensor full(const Shape& shape, Scalar value) {
  return full(shape, value, value.is_floating_point() ? get_default_dtype() : value.dtype());
}

Tensor full(const Shape& shape, Scalar value, DType dtype) {
  Tensor t = empty(shape, dtype);
  visit_dtype(dtype, [&]<class T>() {
    const T v = detail::scalar_as<T>(value);
    T* p = t.impl()->data<T>();
    for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = v;
  });
  return t;
}

Tensor zeros(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  std::memset(t.data_ptr(), 0, static_cast<size_t>(t.numel() * element_size(dtype)));  // 0 in every dtype
  return t;
}
Tensor ones(const Shape& shape, DType dtype) { return full(shape, 1, dtype); }
Tensor zeros_like(const Tensor& t) {
  detail::check_defined("zeros_like", t);
  return zeros(t.shape(), t.dtype());
}
Tensor zeros_like(const Tensor& t, DType dtype) {
  detail::check_defined("zeros_like", t);
  return zeros(t.shape(), dtype);
}
Tensor ones_like(const Tensor& t) {
  detail::check_defined("ones_like", t);
  return ones(t.shape(), t.dtype());
}
Tensor ones_like(const Tensor& t, DType dtype) {
  detail::check_defined("ones_like", t);
  return ones(t.shape(), dtype);
}
Tensor scalar(Scalar value) { return full(Shape{}, value); }
Tensor scalar(Scalar value, DType dtype) { return full(Shape{}, value, dtype); }

Tensor arange(double start, double end, double step, DType dtype) {
  check(step != 0 && std::isfinite(step), "arange: step must be finite and nonzero, got {}", step);
  check(std::isfinite(start) && std::isfinite(end), "arange: start {} and end {} must be finite", start, end);
  check(dtype != kBool, "arange: bool is not a dtype arange can make");
  const double count = std::ceil((end - start) / step);
  check(!(count > static_cast<double>(kMaxTensorBytes)), "arange: [{}, {}) in steps of {} is too many elements", start,
        end, step);
  const int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
  Tensor t = empty({n}, dtype);
  visit_dtype(dtype, [&]<class T>() {
    T* p = t.impl()->data<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = detail::convert<T>(start + static_cast<double>(i) * step);
  });
  return t;
}

namespace detail {
template <class V>
Tensor tensor_from_values(const V* values, int64_t count, const Shape& shape, DType dtype) {
  const int64_t n = checked_numel("tensor", shape, dtype);
  check(count == n, "tensor: {} values do not fill shape {} ({} elements)", count, shape, n);
  Tensor t = empty(shape, dtype);
  visit_dtype(dtype, [&]<class T>() {
    T* p = t.impl()->data<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = convert<T>(values[i]);
  });
  return t;
}
Tensor tensor_from(const bool* v, int64_t count, const Shape& shape, DType dtype) {
  return tensor_from_values(v, count, shape, dtype);
}
Tensor tensor_from(const int64_t* v, int64_t count, const Shape& shape, DType dtype) {
  return tensor_from_values(v, count, shape, dtype);
}
Tensor tensor_from(const float* v, int64_t count, const Shape& shape, DType dtype) {
  return tensor_from_values(v, count, shape, dtype);
}
Tensor tensor_from(const double* v, int64_t count, const Shape& shape, DType dtype) {
  return tensor_from_values(v, count, shape, dtype);
}
}  // namespace detail

// ---- undefined tensors -----------------------------------------------------------------------------
namespace detail {
void throw_undefined_tensor(const char* accessor) {
  throw Error(
      fmt::format("Tensor::{}: the tensor is undefined (a default-constructed Tensor() has no value); "
                  "pass a tensor made by an op or a creation function",
                  accessor));
}
void throw_dtype_mismatch(const char* accessor, DType have, DType asked) {
  constexpr const char* cpp_type[] = {"bool", "int64_t", "float", "double"};
  constexpr const char* constant[] = {"kBool", "kInt64", "kFloat32", "kFloat64"};
  throw Error(
      fmt::format("Tensor::{}: the tensor holds {} values, but {}<{}>() reads {} (use {}<{}>(), or convert "
                  "first with .to({}))",
                  accessor, name(have), accessor, cpp_type[int(asked)], name(asked), accessor, cpp_type[int(have)],
                  constant[int(asked)]));
}
void throw_not_one_element(const Shape& shape) {
  throw Error(fmt::format("item: a tensor of shape {} has {} elements, not one", shape, shape.numel()));
}
int64_t checked_offset(const char* accessor, const Shape& shape, std::initializer_list<int64_t> index) {
  check(static_cast<int>(index.size()) == shape.size(), "{}: {} indices given for a tensor of shape {}", accessor,
        index.size(), shape);
  int64_t offset = 0;
  int axis = 0;
  for (int64_t i : index) {
    const int64_t n = shape[axis];
    check(i >= -n && i < n, "{}: index {} is out of range for axis {} of shape {}", accessor, i, axis, shape);
    offset = offset * n + (i < 0 ? i + n : i);
    ++axis;
  }
  return offset;
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
int64_t Tensor::size(int axis) const { return shape()[detail::normalize_axis("size", axis, dim(), shape())]; }

namespace {
template <class T>
void print_value(std::string& out, T v) {
  if constexpr (std::is_same_v<T, bool>)
    out += v ? "true" : "false";
  else if constexpr (std::is_same_v<T, int64_t>)
    out += fmt::format("{}", v);
  else
    out += fmt::format("{:.6g}", v);
}

template <class T>
void print_values(std::string& out, const T* p, const Shape& s, int axis, int64_t& offset) {
  if (axis == s.size()) {
    print_value(out, p[offset++]);
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
    visit_dtype(dtype(), [&]<class T>() { print_values(out, impl_->data<T>(), shape(), 0, offset); });
    out += ", ";
  }
  out += fmt::format("shape={}", shape());
  if (dtype() != kFloat32) out += fmt::format(", dtype={}", name(dtype()));
  if (requires_grad()) out += is_leaf() ? ", requires_grad" : fmt::format(", grad_fn={}", grad_fn_name());
  return out + ")";
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.to_string(); }

// ---- autograd accessors ----------------------------------------------------------------------------
bool Tensor::requires_grad() const { return impl_of(*this, "requires_grad").requires_grad; }
bool Tensor::is_leaf() const { return impl_of(*this, "is_leaf").grad_fn == nullptr; }
Tensor Tensor::grad() const { return impl_of(*this, "grad").grad; }
void Tensor::zero_grad() { impl_of(*this, "zero_grad").grad = Tensor(); }
int64_t Tensor::version() const { return impl_of(*this, "version").storage->version; }

void Tensor::set_grad(const Tensor& grad) {
  TensorImpl& impl = impl_of(*this, "set_grad");
  if (!grad.defined()) {
    impl.grad = Tensor();
    return;
  }
  check(grad.shape() == impl.shape, "set_grad: a gradient of shape {} for a tensor of shape {}", grad.shape(),
        impl.shape);
  check(grad.dtype() == impl.dtype, "set_grad: a {} gradient for a {} tensor of shape {}", name(grad.dtype()),
        name(impl.dtype), impl.shape);
  impl.grad = grad.detach();
}
const char* Tensor::grad_fn_name() const {
  const TensorImpl& impl = impl_of(*this, "grad_fn_name");
  return impl.grad_fn ? impl.grad_fn->name : "";
}

Tensor& Tensor::requires_grad_(bool on) {
  impl_of(*this, "requires_grad_");
  check(!on || is_floating_point(),
        "requires_grad_: only tensors of a floating dtype can require gradients, this one "
        "is {} (shape {})",
        name(dtype()), shape());
  check(is_leaf(),
        "requires_grad_: only leaf tensors can change requires_grad (this one was produced by '{}'); use "
        "detach() first",
        grad_fn_name());
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
  impl->dtype = impl_->dtype;
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
