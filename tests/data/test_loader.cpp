// unroll::data::Loader (data/loader.hpp): the documented order of an epoch, determinism by seed, every
// example once per epoch, less padding with buckets than with random batches, and the padded batches.
#include <doctest/doctest.h>

#include <algorithm>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "unroll/unroll.hpp"

using namespace unroll;
using Plan = std::vector<std::vector<int64_t>>;

namespace {

doctest::Contains has(const std::string& text) { return doctest::Contains(text.c_str()); }

// `count` examples of random lengths in [1, max_length], ids 100 * example + step, a tag per id and a label.
data::SequenceDataset random_dataset(int64_t count, int64_t max_length, uint64_t seed) {
  Generator gen(seed);
  data::SequenceDataset d;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t length = 1 + static_cast<int64_t>(gen.below(static_cast<uint64_t>(max_length)));
    std::vector<int64_t> ids, tags;
    for (int64_t t = 0; t < length; ++t) {
      ids.push_back(100 * i + t);
      tags.push_back(t % 3);
    }
    d.inputs.push_back(ids);
    d.targets.push_back(tags);
    d.labels.push_back(i % 5);
  }
  return d;
}

std::vector<int64_t> sorted_indices(const Plan& plan) {
  std::vector<int64_t> all;
  for (const auto& b : plan) all.insert(all.end(), b.begin(), b.end());
  std::sort(all.begin(), all.end());
  return all;
}

}  // namespace

TEST_CASE("the order of an epoch follows the documented rule") {
  // The rule of data/loader.hpp written out again: shuffle, sort pools of B x P by length, cut, shuffle batches.
  const data::SequenceDataset d = random_dataset(230, 30, 1);
  const int64_t B = 8, P = 4, epoch = 3;
  const uint64_t seed = 42;
  Generator gen(seed ^ (0x9E3779B97F4A7C15ull * static_cast<uint64_t>(epoch)));
  std::vector<int64_t> order(230);
  std::iota(order.begin(), order.end(), int64_t{0});
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[gen.below(i)]);
  for (size_t i = 0; i < order.size(); i += B * P)
    std::stable_sort(order.begin() + i, order.begin() + std::min(order.size(), i + B * P),
                     [&](int64_t a, int64_t b) { return d.inputs[a].size() < d.inputs[b].size(); });
  Plan expected;
  for (size_t i = 0; i < order.size(); i += B)
    expected.emplace_back(order.begin() + i, order.begin() + std::min(order.size(), i + B));
  for (size_t i = expected.size(); i > 1; --i) std::swap(expected[i - 1], expected[gen.below(i)]);

  const data::Loader loader(d, {.batch_size = B, .seed = seed, .bucket_batches = P});
  CHECK(loader.plan(epoch) == expected);
  CHECK(loader.num_batches() == 29);
  CHECK(expected.size() == 29);
}

TEST_CASE("deterministic for a seed; another seed or epoch gives another order") {
  const data::SequenceDataset d = random_dataset(300, 20, 2);
  const data::Loader a(d, {.batch_size = 16, .seed = 7}), b(d, {.batch_size = 16, .seed = 7}),
      c(d, {.batch_size = 16, .seed = 8});
  CHECK(a.plan(1) == b.plan(1));
  CHECK(a.plan(2) == b.plan(2));
  CHECK(a.plan(1) != a.plan(2));
  CHECK(a.plan(1) != c.plan(1));
  // The batches themselves, tensors included.
  const auto x = a.epoch(1), y = b.epoch(1);
  REQUIRE(x.size() == y.size());
  for (size_t i = 0; i < x.size(); ++i) CHECK(x[i].inputs.to_vector<int64_t>() == y[i].inputs.to_vector<int64_t>());
}

TEST_CASE("every example appears exactly once per epoch") {
  const data::SequenceDataset d = random_dataset(203, 25, 3);
  std::vector<int64_t> all(203);
  std::iota(all.begin(), all.end(), int64_t{0});
  for (const int64_t bucket_batches : {0, 1, 5, 50})
    for (const bool shuffle : {true, false})
      for (int64_t epoch = 1; epoch <= 3; ++epoch) {
        CAPTURE(bucket_batches);
        CAPTURE(shuffle);
        const data::Loader loader(d, {.batch_size = 10, .shuffle = shuffle, .bucket_batches = bucket_batches});
        const Plan plan = loader.plan(epoch);
        CHECK(static_cast<int64_t>(plan.size()) == loader.num_batches());
        CHECK(sorted_indices(plan) == all);
        // 20 batches of 10 and one of 3
        CHECK(std::count_if(plan.begin(), plan.end(), [](const auto& b) { return b.size() == 10; }) == 20);
        CHECK(std::count_if(plan.begin(), plan.end(), [](const auto& b) { return b.size() == 3; }) == 1);
      }
  // drop_last: 20 full batches of 10, each example at most once.
  const data::Loader dropping(d, {.batch_size = 10, .drop_last = true});
  const Plan plan = dropping.plan(1);
  CHECK(plan.size() == 20);
  CHECK(dropping.num_batches() == 20);
  for (const auto& b : plan) CHECK(b.size() == 10);
  const std::vector<int64_t> served = sorted_indices(plan);
  CHECK(served.size() == 200);
  CHECK(std::adjacent_find(served.begin(), served.end()) == served.end());
}

TEST_CASE("buckets reduce padding against random batches") {
  const data::SequenceDataset d = random_dataset(2000, 50, 4);
  int64_t real = 0;
  for (const auto& s : d.inputs) real += static_cast<int64_t>(s.size());
  const data::Loader random_batches(d, {.batch_size = 32, .seed = 5, .bucket_batches = 1});
  const data::Loader buckets(d, {.batch_size = 32, .seed = 5, .bucket_batches = 50});
  for (int64_t epoch = 1; epoch <= 3; ++epoch) {
    const int64_t random_padding = data::padding_steps(d, random_batches.plan(epoch));
    const int64_t bucket_padding = data::padding_steps(d, buckets.plan(epoch));
    CAPTURE(random_padding);
    CAPTURE(bucket_padding);
    // Lengths uniform in [1, 50]: a random batch of 32 pads to ~49, nearly doubling the work; a pool of 1600
    // sorted leaves about one length step per batch.
    CHECK(random_padding > real / 2);
    CHECK(bucket_padding * 10 < random_padding);
  }
}

TEST_CASE("without shuffle: data set order, sorted by length within each pool") {
  data::SequenceDataset d;
  d.inputs = {{1, 1, 1}, {2}, {3, 3}, {4, 4, 4, 4}, {5}};
  CHECK(data::Loader(d, {.batch_size = 2, .shuffle = false, .bucket_batches = 1}).plan(1) == Plan{{1, 0}, {2, 3}, {4}});
  CHECK(data::Loader(d, {.batch_size = 2, .shuffle = false, .bucket_batches = 0}).plan(9) == Plan{{1, 4}, {2, 0}, {3}});
  // Pools larger than the data set are one pool (and batch_size x bucket_batches must not overflow).
  CHECK(data::Loader(d, {.batch_size = 2, .shuffle = false, .bucket_batches = std::numeric_limits<int64_t>::max()})
            .plan(9) == Plan{{1, 4}, {2, 0}, {3}});
}

TEST_CASE("a batch: padded inputs, lengths, mask, targets padded with -100, labels") {
  data::SequenceDataset d;
  d.inputs = {{4, 5, 6}, {7}, {8, 9}};
  d.targets = {{1, 2, 1}, {3}, {2, 2}};
  d.labels = {0, 2, 1};
  const data::Loader loader(d, {.batch_size = 2, .padding_value = 0});
  const data::Batch b = loader.batch({2, 1});
  CHECK(b.indices == std::vector<int64_t>{2, 1});
  CHECK(b.inputs.shape() == Shape{2, 2});
  CHECK(b.inputs.to_vector<int64_t>() == std::vector<int64_t>{8, 7, 9, 0});
  CHECK(b.lengths.to_vector<int64_t>() == std::vector<int64_t>{2, 1});
  CHECK(b.mask.dtype() == kBool);
  CHECK(b.mask.to_vector<bool>() == std::vector<bool>{1, 1, 1, 0});
  CHECK(b.targets.to_vector<int64_t>() == std::vector<int64_t>{2, 3, 2, -100});
  CHECK(b.target_lengths.to_vector<int64_t>() == std::vector<int64_t>{2, 1});
  CHECK(b.target_mask.to_vector<bool>() == std::vector<bool>{1, 1, 1, 0});
  CHECK(b.labels.to_vector<int64_t>() == std::vector<int64_t>{1, 2});
  // The same batch through pad_batch.
  const data::PaddedBatch p = data::pad_batch({tensor({8, 9}), tensor({7})});
  CHECK(p.padded.to_vector<int64_t>() == b.inputs.to_vector<int64_t>());

  const data::Loader first(d, {.batch_size = 2, .batch_first = true, .padding_value = -1});
  const data::Batch f = first.batch({0, 1});
  CHECK(f.inputs.shape() == Shape{2, 3});
  CHECK(f.inputs.to_vector<int64_t>() == std::vector<int64_t>{4, 5, 6, 7, -1, -1});
  CHECK(f.mask.to_vector<bool>() == std::vector<bool>{1, 1, 1, 1, 0, 0});

  data::SequenceDataset inputs_only;
  inputs_only.inputs = {{1}};
  const data::Batch only = data::Loader(inputs_only).batch({0});
  CHECK_FALSE(only.targets.defined());
  CHECK_FALSE(only.labels.defined());
}

TEST_CASE("the loader refuses bad options and indices") {
  data::SequenceDataset d;
  d.inputs = {{1}, {2}};
  CHECK_THROWS_WITH_AS(data::Loader(d, {.batch_size = 0}), has("Loader: batch_size must be >= 1, got 0"), Error);
  CHECK_THROWS_WITH_AS(data::Loader(d, {.bucket_batches = -1}), has("bucket_batches must be >= 0"), Error);
  data::SequenceDataset bad = d;
  bad.targets = {{1}};
  CHECK_THROWS_WITH_AS(data::Loader{bad}, has("Loader: 1 target sequences for 2 inputs"), Error);
  bad = d;
  bad.labels = {1, 2, 3};
  CHECK_THROWS_WITH_AS(data::Loader{bad}, has("Loader: 3 labels for 2 inputs"), Error);
  const data::Loader loader(d);
  CHECK_THROWS_WITH_AS(loader.batch({0, 2}), has("Loader::batch: example 2 is outside [0, 2)"), Error);
  CHECK_THROWS_WITH_AS(loader.batch({}), has("Loader::batch: no examples"), Error);
  CHECK(data::Loader(data::SequenceDataset{}).plan(1).empty());
}
