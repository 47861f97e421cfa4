// unroll::data::Vocabulary (data/vocabulary.hpp): ids in torchtext's order, the cut-offs, unknown tokens and
// their count, encode/decode, and the file: a round trip of awkward tokens, atomic writes, and the refusal
// of every kind of damaged file with an IoError naming the file and the line.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "optim/temp_dir.hpp"
#include "unroll/unroll.hpp"

using namespace unroll;
using data::TokenOrder;
using data::Vocabulary;
using Tokens = std::vector<std::string>;

namespace {

doctest::Contains has(const std::string& text) { return doctest::Contains(text.c_str()); }

void write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

const std::vector<Tokens> kSentences = {{"b", "a", "c", "a"}, {"b", "a", "d"}};  // a 3, b 2, c 1, d 1

}  // namespace

TEST_CASE("build: specials first, then by frequency, ties by the tokens' bytes (torchtext)") {
  const Vocabulary v = Vocabulary::build(kSentences);
  // torchtext: build_vocab_from_iterator(sentences, specials=["<pad>", "<unk>", "<eos>"]).get_itos()
  CHECK(v.tokens() == Tokens{"<pad>", "<unk>", "<eos>", "a", "b", "c", "d"});
  CHECK(v.size() == 7);
  CHECK(v.pad_index() == 0);
  CHECK(v.unk_index() == 1);
  CHECK(v.eos_index() == 2);
  CHECK(v.count(3) == 3);
  CHECK(v.count(4) == 2);
  CHECK(v.count(1) == 0);  // <unk> never occurred
  CHECK(v["c"] == 5);
  CHECK(v.token(6) == "d");
  CHECK(v.find("zebra") == std::nullopt);
  CHECK(v.find("b") == 4);
}

TEST_CASE("build: min_freq, max_size (specials included), the other orders, roles left out") {
  CHECK(Vocabulary::build(kSentences, {.min_freq = 2}).tokens() == Tokens{"<pad>", "<unk>", "<eos>", "a", "b"});
  CHECK(Vocabulary::build(kSentences, {.max_size = 5}).tokens() == Tokens{"<pad>", "<unk>", "<eos>", "a", "b"});
  CHECK(Vocabulary::build(kSentences, {.order = TokenOrder::FirstSeen}).tokens() ==
        Tokens{"<pad>", "<unk>", "<eos>", "b", "a", "c", "d"});
  // A label set: no specials, sorted.
  const Vocabulary labels =
      Vocabulary::build(Tokens{"O", "B-city", "I-city", "O"},
                        {.pad_token = "", .unk_token = "", .eos_token = "", .order = TokenOrder::Sorted});
  CHECK(labels.tokens() == Tokens{"B-city", "I-city", "O"});
  CHECK_FALSE(labels.has_pad());
  CHECK_FALSE(labels.has_unk());
  CHECK_THROWS_WITH_AS(labels.unk_index(), has("no unknown token"), Error);
  // Only <unk> (id 0) and an extra special; a special that occurs in the data keeps its count and its id.
  const Vocabulary u = Vocabulary::build(Tokens{"x", "<unk>", "<bos>", "x"},
                                         {.pad_token = "", .eos_token = "", .extra_specials = {"<bos>"}});
  CHECK(u.tokens() == Tokens{"<unk>", "<bos>", "x"});
  CHECK(u.unk_index() == 0);
  CHECK(u.count(0) == 1);
  CHECK(u.count(1) == 1);
  CHECK_FALSE(u.has_eos());
}

TEST_CASE("build refuses bad options") {
  CHECK_THROWS_WITH_AS(Vocabulary::build(kSentences, {.min_freq = 0}), has("min_freq must be >= 1, got 0"), Error);
  CHECK_THROWS_WITH_AS(Vocabulary::build(kSentences, {.max_size = -1}), has("max_size must be >= 0"), Error);
  CHECK_THROWS_WITH_AS(Vocabulary::build(kSentences, {.max_size = 2}), has("max_size 2 is smaller than the 3 special"),
                       Error);
  CHECK_THROWS_WITH_AS(Vocabulary::build(kSentences, {.extra_specials = {"<pad>"}}),
                       has("the special token '<pad>' is named twice"), Error);
}

TEST_CASE("unknown tokens map to <unk> and are counted; a literal <unk> is not unknown") {
  const Vocabulary v = Vocabulary::build(kSentences);
  int64_t unknown = 0;
  CHECK(v.lookup_indices({"a", "zebra", "<unk>", "d", "yak"}, &unknown) == std::vector<int64_t>{3, 1, 1, 6, 1});
  CHECK(unknown == 2);
  const Tensor ids = v.encode({"zebra", "b"}, &unknown);  // adds to the count
  CHECK(unknown == 3);
  CHECK(ids.dtype() == kInt64);
  CHECK(ids.shape() == Shape{2});
  CHECK(ids.to_vector<int64_t>() == std::vector<int64_t>{1, 4});
  CHECK(v.decode(ids) == Tokens{"<unk>", "b"});
  CHECK(v.lookup_tokens({0, 2}) == Tokens{"<pad>", "<eos>"});
  CHECK(v.encode({}).shape() == Shape{0});
  CHECK_THROWS_WITH_AS(v.token(7), has("id 7 is outside [0, 7)"), Error);
  CHECK_THROWS_WITH_AS(v.decode(tensor({1.0})), has("expected a 1-D int64 tensor, got float32 [1]"), Error);
  CHECK_THROWS_WITH_AS(v.decode(tensor({-1})), has("id -1 is outside"), Error);
  const Vocabulary closed = Vocabulary::build(kSentences, {.unk_token = ""});
  CHECK_THROWS_WITH_AS(closed.index("zebra"), has("'zebra' is not in the vocabulary and it has no unknown token"),
                       Error);
}

TEST_CASE("save / load: a round trip of awkward tokens, the documented format, atomic replacement") {
  unroll_test::TempDir tmp;
  const std::string path = tmp.file("vocab.txt");
  const Tokens awkward = {"tab\there", "new\nline", "back\\slash", "\x01\x7f", "caf\xc3\xa9", " ", "", "a b", "\\t"};
  const Vocabulary v = Vocabulary::build(Tokens(awkward.begin(), awkward.end()), {.eos_token = ""});
  v.save(path);
  const Vocabulary back = Vocabulary::load(path);
  CHECK(back == v);
  CHECK(back.tokens() == v.tokens());
  CHECK(back.has_pad());
  CHECK_FALSE(back.has_eos());
  CHECK(back["new\nline"] == v["new\nline"]);
  const std::string text = read(path);
  CHECK(text.rfind("unroll-vocabulary 1\nsize 11\npad 0\nunk 1\neos -\n<pad>\t0\n<unk>\t0\n", 0) == 0);
  CHECK(text.find("tab\\there\t1\n") != std::string::npos);
  CHECK(text.find("new\\nline\t1\n") != std::string::npos);
  CHECK(text.find("\\x01\\x7f\t1\n") != std::string::npos);
  CHECK(text.find("\\\\t\t1\n") != std::string::npos);

  // Saving again replaces the file whole and leaves no temporary file behind.
  Vocabulary::build(kSentences).save(path);
  CHECK(Vocabulary::load(path) == Vocabulary::build(kSentences));
  int files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(tmp.path())) ++files;
  CHECK(files == 1);
  CHECK(Vocabulary::load(path) != v);
  CHECK_THROWS_WITH_AS(v.save(tmp.file("no/such/dir/vocab.txt")), has("Vocabulary::save: "), IoError);
}

TEST_CASE("load refuses damaged files with IoError naming the file and the line") {
  unroll_test::TempDir tmp;
  const std::string path = tmp.file("vocab.txt");
  const std::string good = "unroll-vocabulary 1\nsize 3\npad 0\nunk 1\neos -\n<pad>\t0\n<unk>\t4\nthe\t9\n";
  write(path, good);
  REQUIRE(Vocabulary::load(path).tokens() == Tokens{"<pad>", "<unk>", "the"});
  struct Bad {
    std::string text, message;
  };
  const std::vector<Bad> cases = {
      {"", ":1: empty file"},
      {"unroll-vocabulary 2\n", ":1: expected the header 'unroll-vocabulary 1'"},
      {"unroll-vocabulary 1\nsize three\n", ":2: 'three' is not a whole non-negative number"},
      {"unroll-vocabulary 1\nsize 3\npad 0\n", ":4: missing the 'unk' line"},
      {"unroll-vocabulary 1\nsize 3\npad 0\nunk 1\nbos 2\n", ":5: expected 'eos ...'"},
      {"unroll-vocabulary 1\nsize 3\npad 0\nunk 7\neos -\n<pad>\t0\n<unk>\t4\nthe\t9\n", ":4: id 7 is outside [0, 3)"},
      {"unroll-vocabulary 1\nsize 3\npad 1\nunk 1\neos -\n<pad>\t0\n<unk>\t4\nthe\t9\n",
       ":4: pad and unk are both id 1"},
      {"unroll-vocabulary 1\nsize 3\npad 0\nunk 1\neos -\n<pad>\t0\n<unk>\t4\nthe\t9",
       ":8: the last line has no newline"},
      {"unroll-vocabulary 1\nsize 3\npad 0\nunk 1\neos -\n<pad>\t0\n<unk>\t4\n",
       ":8: missing token lines: 'size' says 3, the file has 2"},
      {good + "extra\t1\n", ":9: a line after the 3 tokens"},
      {"unroll-vocabulary 1\nsize 3\npad 0\nunk 1\neos -\n<pad>\t0\n<unk>\t-4\nthe\t9\n", ":7: the count '-4' is not"},
      {"unroll-vocabulary 1\nsize 3\npad 0\nunk 1\neos -\n<pad>\t0\n<unk>4\nthe\t9\n",
       ":7: expected '<token>\\t<count>'"},
      {"unroll-vocabulary 1\nsize 3\npad 0\nunk 1\neos -\n<pad>\t0\n<unk>\t4\n<pad>\t9\n",
       ":8: the token '<pad>' is already id 0"},
      {"unroll-vocabulary 1\nsize 3\npad 0\nunk 1\neos -\n<pad>\t0\n<unk>\t4\nth\\qe\t9\n", ":8: unknown escape '\\q'"},
      {"unroll-vocabulary 1\nsize 3\npad 0\nunk 1\neos -\n<pad>\t0\n<unk>\t4\nthe\\x4\t9\n",
       ":8: \\x in the token is not followed"},
      {"unroll-vocabulary 1\nsize 3\npad 0\nunk 1\neos -\n<pad>\t0\n<unk>\t4\nthe\\\t9\n",
       ":8: the token ends with a lone backslash"},
      {"unroll-vocabulary 1\nsize 3\npad 0\nunk 1\neos -\n<pad>\t0\n<unk>\t4\nt\rhe\t9\n",
       ":8: unescaped control byte 0x0d"},
  };
  for (const Bad& bad : cases) {
    CAPTURE(bad.text);
    write(path, bad.text);
    CHECK_THROWS_WITH_AS(Vocabulary::load(path), has("Vocabulary::load: " + path + bad.message), IoError);
  }
  CHECK_THROWS_WITH_AS(Vocabulary::load(tmp.file("missing.txt")), has("missing.txt: no such file"), IoError);
  CHECK_THROWS_WITH_AS(Vocabulary::load(tmp.path().string()), has("not a regular file"), IoError);
}
