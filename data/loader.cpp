#include "unroll/data/loader.hpp"

#include <algorithm>
#include <numeric>

#include "unroll/data/padding.hpp"
#include "unroll/framework/detail/check.hpp"
#include "unroll/framework/ops.hpp"

namespace unroll::data {

namespace {

// The sequences of `indices` padded to the longest: [T, N] (or [N, T]) ids, and their lengths [N].
struct Padded {
  Tensor padded, lengths, mask;
};
Padded pad_ids(const std::vector<std::vector<int64_t>>& sequences, const std::vector<int64_t>& indices,
               int64_t padding_value, bool batch_first) {
  const int64_t N = static_cast<int64_t>(indices.size());
  int64_t T = 0;
  std::vector<int64_t> lengths(static_cast<size_t>(N));
  for (int64_t n = 0; n < N; ++n) {
    lengths[n] = static_cast<int64_t>(sequences[indices[n]].size());
    T = std::max(T, lengths[n]);
  }
  std::vector<int64_t> ids(static_cast<size_t>(T * N), padding_value);
  for (int64_t n = 0; n < N; ++n) {
    const std::vector<int64_t>& s = sequences[indices[n]];
    for (int64_t t = 0; t < lengths[n]; ++t) ids[static_cast<size_t>(batch_first ? n * T + t : t * N + n)] = s[t];
  }
  Padded p;
  p.padded = batch_first ? tensor(ids, {N, T}) : tensor(ids, {T, N});
  p.lengths = tensor(lengths, {N});
  p.mask = length_mask(p.lengths, T, batch_first);
  return p;
}

}  // namespace

Loader::Loader(SequenceDataset data, const LoaderOptions& options) : data_(std::move(data)), options_(options) {
  detail::check(options_.batch_size >= 1, "Loader: batch_size must be >= 1, got {}", options_.batch_size);
  detail::check(options_.bucket_batches >= 0, "Loader: bucket_batches must be >= 0 (0: one pool), got {}",
                options_.bucket_batches);
  detail::check(data_.targets.empty() || data_.targets.size() == data_.inputs.size(),
                "Loader: {} target sequences for {} inputs (give one per input, or none)", data_.targets.size(),
                data_.inputs.size());
  detail::check(data_.labels.empty() || data_.labels.size() == data_.inputs.size(),
                "Loader: {} labels for {} inputs (give one per input, or none)", data_.labels.size(),
                data_.inputs.size());
}

int64_t Loader::num_batches() const {
  const int64_t B = options_.batch_size;
  return options_.drop_last ? size() / B : (size() + B - 1) / B;
}

std::vector<std::vector<int64_t>> Loader::plan(int64_t epoch) const {
  const size_t count = data_.inputs.size(), B = static_cast<size_t>(options_.batch_size);
  // A generator of the epoch's own (0x9E3779B97F4A7C15: 2^64 / golden ratio, spreads consecutive epochs).
  Generator gen(options_.seed ^ (0x9E3779B97F4A7C15ull * static_cast<uint64_t>(epoch)));
  // 1. shuffle
  std::vector<int64_t> order(count);
  std::iota(order.begin(), order.end(), int64_t{0});
  if (options_.shuffle)
    for (size_t i = count; i > 1; --i) std::swap(order[i - 1], order[gen.below(i)]);
  // 2. sort each pool by input length
  // (bucket_batches == 0, or pools larger than the data set: one pool; this also keeps B x bucket_batches
  // from overflowing)
  const auto bucket_batches = static_cast<size_t>(options_.bucket_batches);
  const size_t pool =
      bucket_batches == 0 || bucket_batches > count / B ? std::max<size_t>(count, 1) : B * bucket_batches;
  for (size_t i = 0; i < count; i += pool)
    std::stable_sort(order.begin() + static_cast<std::ptrdiff_t>(i),
                     order.begin() + static_cast<std::ptrdiff_t>(std::min(count, i + pool)),
                     [&](int64_t a, int64_t b) { return data_.inputs[a].size() < data_.inputs[b].size(); });
  // 3. cut into batches
  std::vector<std::vector<int64_t>> batches;
  for (size_t i = 0; i < count; i += B) {
    if (options_.drop_last && i + B > count) break;
    batches.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(i),
                         order.begin() + static_cast<std::ptrdiff_t>(std::min(count, i + B)));
  }
  // 4. shuffle the batches
  if (options_.shuffle)
    for (size_t i = batches.size(); i > 1; --i) std::swap(batches[i - 1], batches[gen.below(i)]);
  return batches;
}

Batch Loader::batch(const std::vector<int64_t>& indices) const {
  detail::check(!indices.empty(), "Loader::batch: no examples");
  for (const int64_t i : indices)
    detail::check(i >= 0 && i < size(), "Loader::batch: example {} is outside [0, {})", i, size());
  Batch b;
  b.indices = indices;
  Padded in = pad_ids(data_.inputs, indices, options_.padding_value, options_.batch_first);
  b.inputs = std::move(in.padded);
  b.lengths = std::move(in.lengths);
  b.mask = std::move(in.mask);
  if (!data_.targets.empty()) {
    Padded out = pad_ids(data_.targets, indices, options_.target_padding_value, options_.batch_first);
    b.targets = std::move(out.padded);
    b.target_lengths = std::move(out.lengths);
    b.target_mask = std::move(out.mask);
  }
  if (!data_.labels.empty()) {
    std::vector<int64_t> labels;
    labels.reserve(indices.size());
    for (const int64_t i : indices) labels.push_back(data_.labels[i]);
    b.labels = tensor(labels, {static_cast<int64_t>(labels.size())});
  }
  return b;
}

std::vector<Batch> Loader::epoch(int64_t epoch) const {
  std::vector<Batch> out;
  for (const auto& indices : plan(epoch)) out.push_back(batch(indices));
  return out;
}

int64_t padding_steps(const SequenceDataset& data, const std::vector<std::vector<int64_t>>& plan) {
  int64_t padding = 0;
  for (const auto& indices : plan) {
    int64_t T = 0, real = 0;
    for (const int64_t i : indices) {
      detail::check(i >= 0 && i < data.size(), "padding_steps: example {} is outside [0, {})", i, data.size());
      const auto length = static_cast<int64_t>(data.inputs[i].size());
      T = std::max(T, length);
      real += length;
    }
    padding += T * static_cast<int64_t>(indices.size()) - real;
  }
  return padding;
}

}  // namespace unroll::data
