// unroll/distributed/sharding.hpp: which part of the data each rank reads.
//
//   const Shard mine = shard_range(num_examples, group.rank(), group.world_size());   // examples [begin, end)
//   const auto tokens = shard_stream(corpus, /*batch_per_rank=*/B, rank, K);          // a language-model stream
//   const std::string lines = read_shard("train.txt", rank, K);                       // only this rank's bytes
//
// Pure functions of (size, rank, world): every rank computes its own slice and nobody communicates.
// They need no MPI: they are part of the core library (unroll::unroll).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "unroll/framework/error.hpp"

namespace unroll::distributed {

// Items [begin, end) of a collection.
struct Shard {
  int64_t begin = 0, end = 0;
  int64_t size() const { return end - begin; }
};

// The rank-th of `world` contiguous slices of n items: sizes differ by at most one, the first n % world
// slices are the longer ones, and together they cover [0, n) exactly once.
Shard shard_range(int64_t n, int rank, int world);

// A token stream cut for language-model training, where each rank reads `batch_per_rank` parallel
// streams. One process reading the whole text with batch K*B cuts it into K*B columns of L / (K*B)
// tokens; rank r gets exactly columns r*B .. r*B + B - 1 of those, as one contiguous stretch of B * (L /
// (K*B)) tokens, so batching it with batch B reproduces them. (The L mod K*B tokens at the end, which the
// single process drops as well, are dropped.) Throws unroll::Error if a rank would get no full column.
Shard shard_stream_range(int64_t length, int64_t batch_per_rank, int rank, int world);
template <class T>
std::vector<T> shard_stream(const std::vector<T>& tokens, int64_t batch_per_rank, int rank, int world) {
  const Shard s = shard_stream_range(static_cast<int64_t>(tokens.size()), batch_per_rank, rank, world);
  return std::vector<T>(tokens.begin() + s.begin, tokens.begin() + s.end);
}

// The whole lines of a text file that belong to this rank, reading only (about) 1/world of the file: the
// file's bytes are cut into `world` equal ranges and a line belongs to the range its first byte is in. The
// ranks' results concatenated in rank order are the file itself. Throws unroll::IoError if the file
// cannot be read.
std::string read_shard(const std::string& path, int rank, int world);

}  // namespace unroll::distributed
