// unroll/data/loader.hpp: padded batches of id sequences, shuffled by a seed and bucketed by length.
//
//   data::SequenceDataset train;                      // one id sequence per example
//   train.inputs = {{4, 5, 6}, {7}, {8, 9}, ...};
//   train.targets = {{1, 2, 1}, {3}, {2, 2}, ...};    // optional: a sequence per example (tags, a translation)
//   train.labels = {0, 2, 1, ...};                    // optional: a class per example
//   data::Loader loader(train, {.batch_size = 32, .seed = 7});
//   for (int64_t epoch = 1; epoch <= epochs; ++epoch)
//     for (const data::Batch& b : loader.epoch(epoch)) {
//       auto [y, state] = lstm(embed(b.inputs), {}, b.lengths);   // inputs int64 [T, N], lengths int64 [N]
//       ... cross_entropy(reshape(logits, {-1, C}), reshape(b.targets, {-1}))   // -100 at padding: ignored
//     }
//
// Shapes: N = examples in the batch (batch_size, the last batch maybe fewer), T = the batch's longest input,
// T' = its longest target sequence.
//
// The order of an epoch (the bucketing rule). For epoch e, a Generator seeded with
// seed ^ (0x9E3779B97F4A7C15 * e) (a fresh one per epoch, so a run resumed at epoch e serves the same batches
// as the uninterrupted run):
//   1. the example indices 0..size-1 are shuffled (Fisher-Yates from the end: for i = size .. 2, swap
//      positions i-1 and gen.below(i)); without `shuffle` they stay in data set order;
//   2. they are cut into pools of batch_size x bucket_batches consecutive examples, and each pool is sorted
//      by input length, shortest first (a stable sort: equal lengths keep their shuffled order);
//      bucket_batches = 1 sorts within each batch only, so the batches are the random batches of step 1;
//      bucket_batches = 0 makes the whole data set one pool;
//   3. the pools are cut, in order, into batches of batch_size examples (the last one of the epoch smaller,
//      or dropped with drop_last);
//   4. with `shuffle`, the order of the batches is shuffled by the same generator (so lengths do not grow
//      through a pool).
// A batch thus holds examples of similar lengths (less padding, less computation spent on it), and
// which examples share a batch still changes every epoch. The same data, options and epoch give the same
// batches on every machine (Generator is std::mt19937_64, gen.below is exact integer arithmetic).
#pragma once

#include <cstdint>
#include <vector>

#include "unroll/framework/tensor.hpp"

namespace unroll::data {

// Examples: one input sequence of ids each, and optionally a target sequence and/or a label each.
struct SequenceDataset {
  std::vector<std::vector<int64_t>> inputs;   // [size] sequences of ids, any lengths (0 allowed)
  std::vector<std::vector<int64_t>> targets;  // empty, or [size]: e.g. a tag per input id, or a target sentence
  std::vector<int64_t> labels;                // empty, or [size]: e.g. the sentence's class
  int64_t size() const { return static_cast<int64_t>(inputs.size()); }
};

struct LoaderOptions {
  int64_t batch_size = 32;              // N, >= 1
  bool shuffle = true;                  // shuffle the examples and the batches every epoch (steps 1 and 4)
  uint64_t seed = 0;                    // with the epoch number, decides the shuffles
  int64_t bucket_batches = 50;          // pool size in batches (step 2): 1 = no bucketing, 0 = one pool
  bool drop_last = false;               // leave out the last batch of an epoch when it is smaller
  bool batch_first = false;             // false: inputs [T, N], targets [T', N]; true: [N, T], [N, T']
  int64_t padding_value = 0;            // inputs after their length (e.g. the vocabulary's <pad> id)
  int64_t target_padding_value = -100;  // targets after their length: cross_entropy's default ignore_index
};

// One padded batch. Every tensor is int64 except the bool masks.
struct Batch {
  std::vector<int64_t> indices;  // [N] the examples' positions in the data set, in batch order
  Tensor inputs;                 // [T, N] ids, padding_value after each length ([N, T] with batch_first)
  Tensor lengths;                // [N] input lengths, as the recurrent layers take them
  Tensor mask;                   // bool [T, N] ([N, T]): true at real steps
  Tensor targets;                // [T', N] ([N, T']), target_padding_value after each length; undefined without
  Tensor target_lengths;         // [N]; undefined without targets
  Tensor target_mask;            // bool [T', N] ([N, T']); undefined without targets
  Tensor labels;                 // [N]; undefined without labels
};

class Loader {
 public:
  // Throws unroll::Error "Loader: ..." for batch_size < 1, bucket_batches < 0, or targets / labels whose
  // count is not the number of inputs.
  Loader(SequenceDataset data, const LoaderOptions& options = {});

  int64_t size() const { return data_.size(); }  // examples
  int64_t num_batches() const;                   // batches per epoch
  const SequenceDataset& dataset() const { return data_; }
  const LoaderOptions& options() const { return options_; }

  // The example indices of every batch of `epoch` (any number: e.g. 1, 2, ...), in serving order (the rule
  // at the top).
  std::vector<std::vector<int64_t>> plan(int64_t epoch) const;
  // The padded batch of these examples (positions in the data set, each in [0, size()); unroll::Error
  // otherwise, and for an empty list).
  Batch batch(const std::vector<int64_t>& indices) const;
  // Every batch of `epoch`: batch(plan(epoch)[0]), batch(plan(epoch)[1]), ...
  std::vector<Batch> epoch(int64_t epoch) const;

 private:
  SequenceDataset data_;
  LoaderOptions options_;
};

// The padded input positions of the batches of `plan`: the sum over its batches of N x T minus the input
// lengths (what bucketing reduces). unroll::Error for an index outside the data set.
int64_t padding_steps(const SequenceDataset& data, const std::vector<std::vector<int64_t>>& plan);

}  // namespace unroll::data
