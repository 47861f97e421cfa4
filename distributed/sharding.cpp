#include "unroll/distributed/sharding.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "unroll/framework/detail/check.hpp"

namespace unroll::distributed {

using detail::check;

namespace {

void check_rank(const char* op, int rank, int world) {
  check(world >= 1 && rank >= 0 && rank < world, "{}: rank {} of world {} (need world >= 1, 0 <= rank < world)", op,
        rank, world);
}

// The first position p >= from where a line starts (p == 0, or the byte before p is '\n'); size if none.
int64_t next_line_start(std::ifstream& in, int64_t from, int64_t size, const std::string& path) {
  if (from <= 0) return 0;
  if (from >= size) return size;
  in.clear();
  in.seekg(from - 1);
  char buffer[1 << 14];
  int64_t at = from - 1;
  while (at < size) {
    in.read(buffer, sizeof buffer);
    const std::streamsize got = in.gcount();
    if (got <= 0) throw IoError("read_shard: " + path + ": read failed at byte " + std::to_string(at));
    if (const void* nl = std::memchr(buffer, '\n', static_cast<size_t>(got)))
      return at + (static_cast<const char*>(nl) - buffer) + 1;
    at += got;
  }
  return size;
}

}  // namespace

Shard shard_range(int64_t n, int rank, int world) {
  check_rank("shard_range", rank, world);
  check(n >= 0, "shard_range: n must be >= 0, got {}", n);
  const int64_t base = n / world, extra = n % world;
  const int64_t begin = rank * base + std::min<int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

Shard shard_stream_range(int64_t length, int64_t batch_per_rank, int rank, int world) {
  check_rank("shard_stream", rank, world);
  check(batch_per_rank >= 1, "shard_stream: batch_per_rank must be >= 1, got {}", batch_per_rank);
  const int64_t columns = batch_per_rank * world;
  const int64_t rows = length / columns;  // tokens per column, as batching the whole stream with K*B would
  check(rows >= 1, "shard_stream: {} tokens cannot fill {} columns (batch {} x {} ranks)", length, columns,
        batch_per_rank, world);
  const int64_t begin = rank * batch_per_rank * rows;
  return {begin, begin + batch_per_rank * rows};
}

std::string read_shard(const std::string& path, int rank, int world) {
  check_rank("read_shard", rank, world);
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw IoError("read_shard: cannot open " + path + ": " + std::strerror(errno));
  const int64_t size = static_cast<int64_t>(in.tellg());
  const Shard bytes = shard_range(size, rank, world);
  const int64_t begin = next_line_start(in, bytes.begin, size, path);
  const int64_t end = next_line_start(in, bytes.end, size, path);
  if (begin >= end) return {};
  std::string text(static_cast<size_t>(end - begin), '\0');
  in.clear();
  in.seekg(begin);
  in.read(text.data(), end - begin);
  if (in.gcount() != end - begin) throw IoError("read_shard: " + path + ": short read");
  return text;
}

}  // namespace unroll::distributed
