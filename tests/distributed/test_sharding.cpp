// Sharding helpers: pure functions, checked for every rank of several world sizes in one process.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <numeric>
#include <unroll/distributed/sharding.hpp>
#include <unroll/unroll.hpp>

using namespace unroll;
using namespace unroll::distributed;

TEST_CASE("shard_range covers [0, n) once, in order, with sizes differing by at most one") {
  for (int64_t n : {0, 1, 5, 7, 100, 101})
    for (int world : {1, 2, 3, 4, 8}) {
      int64_t expected_begin = 0, smallest = n, largest = 0;
      for (int rank = 0; rank < world; ++rank) {
        const Shard s = shard_range(n, rank, world);
        CHECK(s.begin == expected_begin);
        expected_begin = s.end;
        smallest = std::min(smallest, s.size());
        largest = std::max(largest, s.size());
      }
      CHECK(expected_begin == n);
      CHECK(largest - smallest <= 1);
    }
}

TEST_CASE("shard_range and read_shard refuse a rank outside the world") {
  CHECK_THROWS_WITH_AS(shard_range(10, 2, 2), doctest::Contains("shard_range: rank 2 of world 2"), Error);
  CHECK_THROWS_AS(shard_range(10, 0, 0), Error);
  CHECK_THROWS_AS(shard_range(10, -1, 2), Error);
  CHECK_THROWS_AS(read_shard("/nonexistent", 3, 2), Error);
}

// Batching a stream with N columns as the examples do: column n is tokens [n * rows, (n + 1) * rows).
std::vector<std::vector<int>> columns(const std::vector<int>& stream, int64_t n) {
  const int64_t rows = static_cast<int64_t>(stream.size()) / n;
  std::vector<std::vector<int>> out;
  for (int64_t c = 0; c < n; ++c) out.emplace_back(stream.begin() + c * rows, stream.begin() + (c + 1) * rows);
  return out;
}

TEST_CASE("shard_stream gives rank r exactly columns r*B .. r*B+B-1 of the whole stream batched with K*B") {
  for (int length : {40, 97, 1000})
    for (int world : {1, 2, 3})
      for (int batch : {1, 2, 5}) {
        std::vector<int> stream(length);
        std::iota(stream.begin(), stream.end(), 0);
        const auto all = columns(stream, int64_t{batch} * world);
        for (int rank = 0; rank < world; ++rank) {
          const auto mine = columns(shard_stream(stream, batch, rank, world), batch);
          REQUIRE(mine.size() == static_cast<size_t>(batch));
          for (int b = 0; b < batch; ++b) CHECK(mine[b] == all[rank * batch + b]);
        }
      }
}

TEST_CASE("shard_stream refuses a stream too short to give every rank a column") {
  const std::vector<int> stream(7);
  CHECK_THROWS_WITH_AS(shard_stream(stream, 4, 0, 2), doctest::Contains("7 tokens cannot fill 8 columns"), Error);
  CHECK_THROWS_AS(shard_stream(stream, 0, 0, 2), Error);
}

TEST_CASE("read_shard: the ranks' whole lines concatenated are the file") {
  const auto dir = std::filesystem::temp_directory_path() / ("unroll_read_shard_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::vector<std::string> texts = {"",
                                          "one line without newline",
                                          "a\nb\nc\n",
                                          "\n\n\n\n",
                                          "short\na much longer line that spans several shards\nx\n",
                                          "no final newline\nlast"};
  for (size_t t = 0; t < texts.size(); ++t) {
    const std::string path = (dir / ("text" + std::to_string(t))).string();
    std::ofstream(path, std::ios::binary) << texts[t];
    for (int world : {1, 2, 3, 5, 16}) {
      std::string joined;
      for (int rank = 0; rank < world; ++rank) {
        const std::string part = read_shard(path, rank, world);
        // Each part is whole lines: it ends with a newline unless it holds the file's last line.
        if (!part.empty() && part.back() != '\n') CHECK(joined.size() + part.size() == texts[t].size());
        joined += part;
      }
      CHECK(joined == texts[t]);
    }
  }
  CHECK_THROWS_WITH_AS(read_shard((dir / "missing").string(), 0, 1), doctest::Contains("cannot open"), IoError);
  std::filesystem::remove_all(dir);
}
