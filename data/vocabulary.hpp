// unroll/data/vocabulary.hpp: tokens <-> integer ids, as torchtext's Vocab / build_vocab_from_iterator.
//
//   const std::vector<std::vector<std::string>> sentences = {{"the", "cat", "sat"}, {"the", "dog"}};
//   const auto vocab = unroll::data::Vocabulary::build(sentences, {.min_freq = 1});
//   // ids: <pad> 0, <unk> 1, <eos> 2, then "the" 3 (most frequent), "cat" 4, "dog" 5, "sat" 6
//   int64_t unknown = 0;
//   Tensor ids = vocab.encode({"the", "bird"}, &unknown);  // int64 [2] = {3, 1}; unknown == 1
//   vocab.decode(ids);                                     // {"the", "<unk>"}
//   vocab.save("vocab.txt");  auto same = Vocabulary::load("vocab.txt");
//
// Ids. The special tokens come first, in this order: the padding token (`<pad>`, id 0 by default, so that
// zero-filled id tensors are padding and Embedding's padding_idx = 0 matches), the unknown token (`<unk>`,
// 1) and the end-of-sequence token (`<eos>`, 2), then `extra_specials`; an empty name leaves that role out
// and the ids after it move down. The other tokens follow in the order `order` chooses:
//   ByFrequency  count descending, ties by the tokens' bytes ascending (torchtext's build_vocab_from_iterator)
//   FirstSeen    order of first appearance in the data
//   Sorted       the tokens' bytes ascending (for UTF-8: code point order); for label sets
// Tokens seen fewer than `min_freq` times are left out (specials are always in), and with `max_size` > 0
// only the first max_size ids are kept, specials included (torchtext's max_tokens).
//
// Unknown tokens. A token that is not in the vocabulary maps to the `<unk>` id; the lookups count how many
// did (`num_unknown`). A literal "<unk>" in the data is the `<unk>` token itself, not an unknown token.
// Without an unknown token (unk_token = ""), looking up a token that is not there throws unroll::Error.
//
// File format (save/load): UTF-8-agnostic text, one line per id, so a vocabulary is easy to read and diff:
//   unroll-vocabulary 1
//   size 7                     number of tokens
//   pad 0                      the role ids ("-" when the role is absent)
//   unk 1
//   eos 2
//   <pad>\t0                   then `size` lines: the token, a tab, its count in the data it was built from
//   ...
// In a token, backslash, tab, newline, carriage return and the other bytes below 0x20 and 0x7f are written
// as \\, \t, \n, \r and \xHH; other bytes (UTF-8 included) as they are. save() writes atomically (a
// temporary file fsynced and renamed over the path, as checkpoints are). load() treats the file as input:
// only a regular file is read, and any deviation (wrong header, bad count, duplicate token, bad escape, role
// id out of range, missing or extra lines) throws unroll::IoError "Vocabulary::load: <path>:<line>: what".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "unroll/framework/tensor.hpp"

namespace unroll::data {

// How build() orders the tokens that are not special.
enum class TokenOrder {
  ByFrequency,  // count descending, then bytes ascending (torchtext)
  FirstSeen,    // order of first appearance
  Sorted,       // bytes ascending
};

struct VocabularyOptions {
  int64_t min_freq = 1;                          // tokens seen fewer times are left out (-> <unk>); >= 1
  int64_t max_size = 0;                          // > 0: keep at most this many ids, specials included; 0: no limit
  std::string pad_token = "<pad>";               // id 0; "" for none
  std::string unk_token = "<unk>";               // what unknown tokens map to; "" for none (unknown tokens throw)
  std::string eos_token = "<eos>";               // end of sequence; "" for none
  std::vector<std::string> extra_specials = {};  // more specials after those (e.g. "<bos>"), always in
  TokenOrder order = TokenOrder::ByFrequency;
};

class Vocabulary {
 public:
  Vocabulary() = default;  // empty: no tokens, no roles

  // Counts every token of `sequences` (or of the one stream `tokens`) and builds the vocabulary as described
  // at the top. Throws unroll::Error for min_freq < 1, max_size < 0, a max_size too small for the specials,
  // or a special token named twice.
  static Vocabulary build(const std::vector<std::vector<std::string>>& sequences,
                          const VocabularyOptions& options = {});
  static Vocabulary build(const std::vector<std::string>& tokens, const VocabularyOptions& options = {});

  int64_t size() const { return static_cast<int64_t>(tokens_.size()); }
  bool contains(const std::string& token) const { return index_.count(token) > 0; }
  // The token's id, or nullopt when it is not in the vocabulary (no <unk> fallback).
  std::optional<int64_t> find(const std::string& token) const;
  // The token's id; the <unk> id for a token not in the vocabulary (unroll::Error without an <unk>).
  int64_t index(const std::string& token) const;
  int64_t operator[](const std::string& token) const { return index(token); }
  // The token of `id`; unroll::Error when id is not in [0, size()).
  const std::string& token(int64_t id) const;
  // How many times the token of `id` occurred in the data the vocabulary was built from.
  int64_t count(int64_t id) const;
  const std::vector<std::string>& tokens() const { return tokens_; }  // id -> token (torchtext's get_itos)

  bool has_pad() const { return pad_ >= 0; }
  bool has_unk() const { return unk_ >= 0; }
  bool has_eos() const { return eos_ >= 0; }
  // The role ids; unroll::Error when the vocabulary has no such token.
  int64_t pad_index() const;
  int64_t unk_index() const;
  int64_t eos_index() const;

  // tokens -> ids (torchtext's lookup_indices). `num_unknown`, when given, is increased by the number of
  // tokens that were not in the vocabulary (mapped to <unk>).
  std::vector<int64_t> lookup_indices(const std::vector<std::string>& tokens, int64_t* num_unknown = nullptr) const;
  // ids -> tokens; unroll::Error for an id outside [0, size()).
  std::vector<std::string> lookup_tokens(const std::vector<int64_t>& ids) const;
  // tokens [L] -> int64 tensor [L] of their ids (lookup_indices as a tensor).
  Tensor encode(const std::vector<std::string>& tokens, int64_t* num_unknown = nullptr) const;
  // 1-D int64 tensor of ids [L] -> its L tokens; unroll::Error for another dtype, rank or an id out of range.
  std::vector<std::string> decode(const Tensor& ids) const;

  // Writes the file format above, atomically; unroll::IoError when the file cannot be written.
  void save(const std::string& path) const;
  // Reads a file written by save(); unroll::IoError naming the file and line for anything malformed.
  static Vocabulary load(const std::string& path);

  bool operator==(const Vocabulary& other) const;

 private:
  // Adds a token that is not in yet; returns its id.
  int64_t add(const std::string& token, int64_t count);

  std::vector<std::string> tokens_;                 // id -> token
  std::vector<int64_t> counts_;                     // id -> occurrences in the data
  std::unordered_map<std::string, int64_t> index_;  // token -> id
  int64_t pad_ = -1, unk_ = -1, eos_ = -1;          // role ids, -1 when absent
};

}  // namespace unroll::data
