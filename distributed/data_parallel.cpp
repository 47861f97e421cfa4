#include "unroll/distributed/data_parallel.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/check.hpp"

namespace unroll::distributed {

using detail::check;
using detail::fail;

namespace {

// FNV-1a over bytes: a cheap fingerprint to compare replicas or parameter layouts between ranks.
uint64_t fnv1a(const void* bytes, size_t size, uint64_t hash = 1469598103934665603ull) {
  const auto* p = static_cast<const unsigned char*>(bytes);
  for (size_t i = 0; i < size; ++i) hash = (hash ^ p[i]) * 1099511628211ull;
  return hash;
}

}  // namespace

DataParallel::DataParallel(ProcessGroup& group, std::vector<Tensor> parameters, DataParallelOptions options)
    : group_(group), params_(std::move(parameters)), options_(options) {
  check(options.bucket_cap_mb > 0, "DataParallel: bucket_cap_mb must be > 0, got {}", options.bucket_cap_mb);
  uint64_t layout = 0;
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!params_[i].defined()) fail("DataParallel: parameter {} is an undefined tensor", i);
    // The flat buffers below are float32, as is every model this component was measured with; a float64
    // model trains in one process (docs/distributed.md).
    if (params_[i].dtype() != kFloat32)
      fail("DataParallel: parameter {} is {}; data-parallel training takes float32 parameters (model.to(kFloat32))", i,
           name(params_[i].dtype()));
    gradient_values_ += params_[i].numel();
    const Shape& shape = params_[i].shape();
    for (int d = 0; d < shape.size(); ++d) {
      const int64_t extent = shape[d];
      layout = fnv1a(&extent, sizeof extent, layout);
    }
    layout = fnv1a("|", 1, layout);
  }
  bucket_values_ = std::max<int64_t>(1, static_cast<int64_t>(options.bucket_cap_mb * 1024 * 1024 / sizeof(real)));

  // Every rank must train the same model: compare (count, values, shapes) with the other ranks before
  // anything else is exchanged, so a mismatch is an error on every rank rather than a hang or garbage.
  const uint64_t mine[3] = {params_.size(), static_cast<uint64_t>(gradient_values_), layout};
  std::vector<uint64_t> all(3 * group_.world_size());
  group_.all_gather(mine, 3, all.data());
  for (int r = 1; r < group_.world_size(); ++r)
    if (!std::equal(all.begin(), all.begin() + 3, all.begin() + 3 * r))
      fail(
          "DataParallel: the ranks hold different models: rank 0 has {} parameters ({} values), rank {} has {} "
          "({} values){}; every rank must build the same model",
          all[0], all[1], r, all[3 * r], all[3 * r + 1],
          all[0] == all[3 * r] && all[1] == all[3 * r + 1] ? " with other shapes" : "");
  if (options.broadcast_parameters) broadcast_parameters();
}

void DataParallel::broadcast_parameters() {
  // Packed into one buffer: a few large broadcasts instead of one per tensor.
  std::vector<real> flat(static_cast<size_t>(gradient_values_));
  if (group_.is_root()) {
    int64_t at = 0;
    for (const Tensor& p : params_) {
      std::memcpy(flat.data() + at, p.data<float>(), sizeof(real) * p.numel());
      at += p.numel();
    }
  }
  for (int64_t at = 0; at < gradient_values_; at += bucket_values_)
    group_.broadcast(flat.data() + at, std::min(bucket_values_, gradient_values_ - at), 0);
  if (!group_.is_root()) {
    int64_t at = 0;
    for (Tensor& p : params_) {
      std::memcpy(p.data<float>(), flat.data() + at, sizeof(real) * p.numel());
      at += p.numel();
    }
  }
}

std::vector<double> DataParallel::average_gradients(std::initializer_list<double> metrics) {
  // flat_: [every gradient, in parameter order | one "has a gradient" flag per parameter | metrics]
  const int64_t P = static_cast<int64_t>(params_.size()), M = static_cast<int64_t>(metrics.size());
  const int64_t total = gradient_values_ + P + M;
  flat_.resize(static_cast<size_t>(total));
  int64_t at = 0;
  for (int64_t i = 0; i < P; ++i) {
    const Tensor& p = params_[i];
    const Tensor g = p.grad();
    if (g.defined()) {
      if (g.shape() != p.shape()) [[unlikely]]
        fail("DataParallel::average_gradients: parameter {} has shape {} but its gradient {}", i, p.shape(), g.shape());
      std::memcpy(flat_.data() + at, g.data<float>(), sizeof(real) * g.numel());
    } else {
      std::fill_n(flat_.data() + at, p.numel(), real(0));
    }
    flat_[gradient_values_ + i] = g.defined() ? real(1) : real(0);
    at += p.numel();
  }
  std::copy(metrics.begin(), metrics.end(), flat_.begin() + gradient_values_ + P);

  const auto start = std::chrono::steady_clock::now();
  for (int64_t piece = 0; piece < total; piece += bucket_values_) {
    group_.all_reduce_sum(flat_.data() + piece, std::min(bucket_values_, total - piece));
    ++calls_;
  }
  comm_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  // grad = sum / K (PyTorch's DDP divides by the world size too): the gradient of the mean over K*B.
  const real inverse = real(1) / static_cast<real>(group_.world_size());
  NoGradGuard no_grad;
  at = 0;
  for (int64_t i = 0; i < P; ++i) {
    Tensor& p = params_[i];
    const int64_t n = p.numel();
    if (flat_[gradient_values_ + i] > 0) {  // some rank had a gradient for it
      if (!p.grad().defined()) p.impl()->grad = empty(p.shape(), kFloat32);
      real* g = p.grad().data<float>();
      const real* sum = flat_.data() + at;
      for (int64_t k = 0; k < n; ++k) g[k] = sum[k] * inverse;
    }
    at += n;
  }
  std::vector<double> means;
  for (int64_t m = 0; m < M; ++m) means.push_back(static_cast<double>(flat_[gradient_values_ + P + m] * inverse));
  return means;
}

bool DataParallel::replicas_identical() {
  uint64_t hash = 1469598103934665603ull;
  for (const Tensor& p : params_) hash = fnv1a(p.data<float>(), sizeof(real) * p.numel(), hash);
  std::vector<uint64_t> all(group_.world_size());
  group_.all_gather(&hash, 1, all.data());
  return std::all_of(all.begin(), all.end(), [&](uint64_t h) { return h == all[0]; });
}

int64_t DataParallel::buckets_per_step() const {
  const int64_t total = gradient_values_ + static_cast<int64_t>(params_.size());
  return (total + bucket_values_ - 1) / bucket_values_;
}

int64_t DataParallel::bytes_per_step() const {
  return static_cast<int64_t>(sizeof(real)) * (gradient_values_ + static_cast<int64_t>(params_.size()));
}

}  // namespace unroll::distributed
