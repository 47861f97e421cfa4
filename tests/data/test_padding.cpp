// unroll::data::pad_sequence / pad_batch / length_mask (data/padding.hpp): values, gradients and errors
// against torch.nn.utils.rnn.pad_sequence (tests/fixtures/data_reference.txt, tests/gen_data_fixtures.py),
// and the lengths a recurrent layer takes.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "support/fixtures.hpp"
#include "unroll/unroll.hpp"

using namespace unroll;

namespace {

doctest::Contains has(const std::string& text) { return doctest::Contains(text.c_str()); }

Tensor from_fixture(const unroll_test::FixtureTensor& f) {
  const Shape shape(f.shape.begin(), f.shape.end());
  if (f.dtype == "int64") return tensor(f.int_values, shape);
  if (f.dtype == "bool") return tensor(f.int_values, shape, kBool);
  return tensor(f.values, shape, kFloat64);
}

const unroll_test::Fixtures& fixtures() {
  static const unroll_test::Fixtures cases =
      unroll_test::load_fixtures(std::string(UNROLL_FIXTURES_DIR) + "/data_reference.txt");
  return cases;
}

}  // namespace

TEST_CASE("pad_sequence matches torch.nn.utils.rnn.pad_sequence, values and gradients") {
  REQUIRE(fixtures().size() == 8);
  for (const auto& [name, c] : fixtures()) {
    CAPTURE(name);
    std::vector<Tensor> sequences;
    for (int i = 0; c.has("in" + std::to_string(i)); ++i) {
      Tensor s = from_fixture(c.at("in" + std::to_string(i)));
      if (s.dtype() == kFloat64) s.requires_grad_();
      sequences.push_back(s);
    }
    const auto& num = c.at("num");
    const Scalar padding_value = num.dtype == "int64" ? Scalar(num.int_values[0]) : Scalar(num.values[0]);
    const bool batch_first = c.at("batch_first").int_values[0] != 0;
    const Tensor out = data::pad_sequence(sequences, {.batch_first = batch_first, .padding_value = padding_value});
    const Tensor expected = from_fixture(c.at("out"));
    CHECK(out.dtype() == expected.dtype());
    REQUIRE(out.shape() == expected.shape());
    if (out.dtype() == kFloat64) {
      CHECK(out.to_vector<double>() == expected.to_vector<double>());  // copies: exact
      sum(mul(out, from_fixture(c.at("w")))).backward();
      for (size_t i = 0; i < sequences.size(); ++i)
        CHECK(sequences[i].grad().to_vector<double>() ==
              from_fixture(c.at("grad" + std::to_string(i))).to_vector<double>());
    } else if (out.dtype() == kInt64) {
      CHECK(out.to_vector<int64_t>() == expected.to_vector<int64_t>());
    } else {
      CHECK(out.to_vector<bool>() == expected.to_vector<bool>());
    }
  }
}

TEST_CASE("pad_batch: padded ids, lengths and mask (values worked out by hand)") {
  // {4, 5, 6}, {7}, {8, 9} time-major: row t holds step t of each sequence, 0 after its end.
  const data::PaddedBatch b = data::pad_batch({tensor({4, 5, 6}), tensor({7}), tensor({8, 9})});
  CHECK(b.padded.shape() == Shape{3, 3});
  CHECK(b.padded.to_vector<int64_t>() == std::vector<int64_t>{4, 7, 8, 5, 0, 9, 6, 0, 0});
  CHECK(b.lengths.dtype() == kInt64);
  CHECK(b.lengths.to_vector<int64_t>() == std::vector<int64_t>{3, 1, 2});
  CHECK(b.mask.dtype() == kBool);
  CHECK(b.mask.shape() == Shape{3, 3});
  CHECK(b.mask.to_vector<bool>() == std::vector<bool>{1, 1, 1, 1, 0, 1, 1, 0, 0});

  const data::PaddedBatch f =
      data::pad_batch({tensor({4, 5, 6}), tensor({7})}, {.batch_first = true, .padding_value = -1});
  CHECK(f.padded.shape() == Shape{2, 3});
  CHECK(f.padded.to_vector<int64_t>() == std::vector<int64_t>{4, 5, 6, 7, -1, -1});
  CHECK(f.mask.shape() == Shape{2, 3});
  CHECK(f.mask.to_vector<bool>() == std::vector<bool>{1, 1, 1, 1, 0, 0});
}

TEST_CASE("pad_batch's lengths drive an LSTM like separate sequences") {
  // Each sequence run alone must give the same final hidden state as the padded batch with lengths.
  manual_seed(3);
  layers::LSTM lstm({.input_size = 2, .hidden_size = 3});
  const std::vector<Tensor> seqs = {randn({4, 2}), randn({2, 2}), randn({3, 2})};
  const data::PaddedBatch b = data::pad_batch(seqs);
  const auto out = lstm(b.padded, {}, b.lengths);  // padded: [4, 3, 2]
  for (int64_t n = 0; n < 3; ++n) {
    const auto alone = lstm(unsqueeze(seqs[n], 1), {}, Tensor());  // [L, 1, 2]
    const std::vector<float> h = narrow(out.state.h, 1, n, 1).to_vector<float>();
    const std::vector<float> h_alone = alone.state.h.to_vector<float>();
    REQUIRE(h.size() == h_alone.size());
    for (size_t k = 0; k < h.size(); ++k) CHECK(h[k] == doctest::Approx(h_alone[k]).epsilon(1e-6));
  }
}

TEST_CASE("length_mask") {
  CHECK(data::length_mask(tensor({2, 0}), 3).to_vector<bool>() == std::vector<bool>{1, 0, 1, 0, 0, 0});
  CHECK(data::length_mask(tensor({2, 0}), 3, true).to_vector<bool>() == std::vector<bool>{1, 1, 0, 0, 0, 0});
  CHECK_THROWS_WITH_AS(data::length_mask(tensor({4}), 3), has("lengths[0] = 4 is outside [0, 3]"), Error);
  CHECK_THROWS_WITH_AS(data::length_mask(tensor({1.0}), 3), has("int64 [N]"), Error);
}

TEST_CASE("pad_sequence refuses what torch refuses, naming the sequence") {
  CHECK_THROWS_WITH_AS(data::pad_sequence({}), has("pad_sequence: received an empty list of sequences"), Error);
  CHECK_THROWS_WITH_AS(data::pad_sequence({tensor({1, 2}), tensor({1.0})}),
                       has("pad_sequence: sequence 1 is float32 but sequence 0 is int64"), Error);
  CHECK_THROWS_WITH_AS(data::pad_sequence({zeros({2, 3}), zeros({2, 4})}),
                       has("pad_sequence: sequence 1 has shape [2, 4] but sequence 0 has [2, 3]"), Error);
  CHECK_THROWS_WITH_AS(data::pad_sequence({tensor({1}), scalar(2)}), has("sequence 1 has rank 0"), Error);
  CHECK_THROWS_WITH_AS(data::pad_batch({tensor({1}), Tensor()}), has("pad_batch: sequence 1 is an undefined tensor"),
                       Error);
}
