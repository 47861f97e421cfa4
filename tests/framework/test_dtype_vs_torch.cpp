// Dtypes against PyTorch: result dtypes and values of mixed-dtype ops, and the errors PyTorch raises.
//
// tests/gen_fixtures.py writes tests/fixtures/dtype_reference.txt: the promotion table of add/sub/mul/div
// (every pair of bool, int64, float32, float64 as tensors with dims, rank-0 tensors and Python numbers),
// every comparison and logical op over mixed dtypes with NaN, int64/bool reductions, where/masked_fill,
// int64 elementwise ops, index ops with int64 indices, to() conversions and concat. A case is named
// "<op>__<operands>"; <op> selects a lambda below, which gets the case's inputs: tensors (in<i>, created
// with their dtype) or Python numbers (num<i>, passed as a Scalar: int -> int64_t, float -> double,
// bool -> bool). Where torch returned a tensor, unroll must return one of the same dtype and shape with the
// same values (int64 and bool exactly; floating ones to a few units in the last place, NaN where torch has
// NaN). Where torch raised, unroll must throw unroll::Error whose message starts with the op's name.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "support/fixtures.hpp"
#include "unroll/unroll.hpp"

using namespace unroll;

namespace {

// One input of a case: a tensor, or a Python number (a Scalar).
struct Operand {
  Tensor tensor;
  std::optional<Scalar> number;
};
using Inputs = std::vector<Operand>;

struct Op {
  std::function<Tensor(const Inputs&)> fn;
  std::string error_prefix;  // what unroll's messages for this op start with
};

// Binary arithmetic with tensors and numbers on either side (the operators take a Scalar on both sides).
template <class F>
Tensor arithmetic(const Inputs& in, F f) {
  if (in[0].number) return f(*in[0].number, in[1].tensor);
  if (in[1].number) return f(in[0].tensor, *in[1].number);
  return f(in[0].tensor, in[1].tensor);
}
// Comparisons: a number only on the right (eq(tensor, 2), as x == 2 in Python).
template <class F>
Tensor comparison(const Inputs& in, F f) {
  REQUIRE_FALSE(in[0].number.has_value());
  return in[1].number ? f(in[0].tensor, *in[1].number) : f(in[0].tensor, in[1].tensor);
}
// where(condition, a, b) with a or b a number.
Tensor where_of(const Inputs& in) {
  if (in[1].number) return where(in[0].tensor, *in[1].number, in[2].tensor);
  if (in[2].number) return where(in[0].tensor, in[1].tensor, *in[2].number);
  return where(in[0].tensor, in[1].tensor, in[2].tensor);
}

const std::map<std::string, Op>& op_table() {
  static const std::map<std::string, Op> table = [] {
    std::map<std::string, Op> t;
    t["add"] = {[](const Inputs& in) { return arithmetic(in, [](const auto& a, const auto& b) { return a + b; }); },
                "add:"};
    t["sub"] = {[](const Inputs& in) { return arithmetic(in, [](const auto& a, const auto& b) { return a - b; }); },
                "sub:"};
    t["mul"] = {[](const Inputs& in) { return arithmetic(in, [](const auto& a, const auto& b) { return a * b; }); },
                "mul:"};
    t["div"] = {[](const Inputs& in) { return arithmetic(in, [](const auto& a, const auto& b) { return a / b; }); },
                "div:"};
    t["eq"] = {[](const Inputs& in) { return comparison(in, [](const auto& a, const auto& b) { return eq(a, b); }); },
               "eq:"};
    t["ne"] = {[](const Inputs& in) { return comparison(in, [](const auto& a, const auto& b) { return ne(a, b); }); },
               "ne:"};
    t["lt"] = {[](const Inputs& in) { return comparison(in, [](const auto& a, const auto& b) { return lt(a, b); }); },
               "lt:"};
    t["le"] = {[](const Inputs& in) { return comparison(in, [](const auto& a, const auto& b) { return le(a, b); }); },
               "le:"};
    t["gt"] = {[](const Inputs& in) { return comparison(in, [](const auto& a, const auto& b) { return gt(a, b); }); },
               "gt:"};
    t["ge"] = {[](const Inputs& in) { return comparison(in, [](const auto& a, const auto& b) { return ge(a, b); }); },
               "ge:"};
    t["logical_and"] = {[](const Inputs& in) { return logical_and(in[0].tensor, in[1].tensor); }, "logical_and:"};
    t["logical_or"] = {[](const Inputs& in) { return logical_or(in[0].tensor, in[1].tensor); }, "logical_or:"};
    t["logical_xor"] = {[](const Inputs& in) { return logical_xor(in[0].tensor, in[1].tensor); }, "logical_xor:"};
    t["logical_not"] = {[](const Inputs& in) { return logical_not(in[0].tensor); }, "logical_not:"};
    // reductions
    t["sum_all"] = {[](const Inputs& in) { return sum(in[0].tensor); }, "sum:"};
    t["sum_0"] = {[](const Inputs& in) { return sum(in[0].tensor, {0}); }, "sum:"};
    t["sum_1_keepdim"] = {[](const Inputs& in) { return sum(in[0].tensor, {1}, true); }, "sum:"};
    t["max_all"] = {[](const Inputs& in) { return max(in[0].tensor); }, "max:"};
    t["max_1"] = {[](const Inputs& in) { return max(in[0].tensor, 1).values; }, "max:"};
    t["max_0_keepdim"] = {[](const Inputs& in) { return max(in[0].tensor, 0, true).values; }, "max:"};
    t["argmax_1"] = {[](const Inputs& in) { return argmax(in[0].tensor, 1); }, "argmax:"};
    t["mean_all"] = {[](const Inputs& in) { return mean(in[0].tensor); }, "mean:"};
    t["mean_1"] = {[](const Inputs& in) { return mean(in[0].tensor, {1}); }, "mean:"};
    // selection
    t["where"] = {where_of, "where:"};
    t["masked_fill"] = {[](const Inputs& in) { return masked_fill(in[0].tensor, in[1].tensor, *in[2].number); },
                        "masked_fill:"};
    // elementwise
    t["clamp"] = {[](const Inputs& in) { return clamp(in[0].tensor, *in[1].number, *in[2].number); }, "clamp:"};
    t["pow"] = {[](const Inputs& in) { return pow(in[0].tensor, *in[1].number); }, "pow:"};
    t["abs"] = {[](const Inputs& in) { return abs(in[0].tensor); }, "abs:"};
    t["neg"] = {[](const Inputs& in) { return neg(in[0].tensor); }, "neg:"};
    t["relu"] = {[](const Inputs& in) { return relu(in[0].tensor); }, "relu:"};
    t["exp"] = {[](const Inputs& in) { return exp(in[0].tensor); }, "exp:"};
    t["log"] = {[](const Inputs& in) { return log(in[0].tensor); }, "log:"};
    t["sqrt"] = {[](const Inputs& in) { return sqrt(in[0].tensor); }, "sqrt:"};
    t["tanh"] = {[](const Inputs& in) { return tanh(in[0].tensor); }, "tanh:"};
    t["sigmoid"] = {[](const Inputs& in) { return sigmoid(in[0].tensor); }, "sigmoid:"};
    // indexing and losses
    t["index_select_0"] = {[](const Inputs& in) { return index_select(in[0].tensor, 0, in[1].tensor); },
                           "index_select:"};
    t["index_select_1"] = {[](const Inputs& in) { return index_select(in[0].tensor, 1, in[1].tensor); },
                           "index_select:"};
    t["gather_1"] = {[](const Inputs& in) { return gather(in[0].tensor, 1, in[1].tensor); }, "gather:"};
    t["embedding"] = {[](const Inputs& in) { return embedding(in[0].tensor, in[1].tensor); }, "embedding:"};
    t["nll_loss"] = {[](const Inputs& in) { return nll_loss(in[0].tensor, in[1].tensor); }, "nll_loss:"};
    t["cross_entropy"] = {[](const Inputs& in) { return cross_entropy(in[0].tensor, in[1].tensor); }, "nll_loss:"};
    // conversions
    t["to_bool"] = {[](const Inputs& in) { return in[0].tensor.to(kBool); }, "to:"};
    t["to_int64"] = {[](const Inputs& in) { return in[0].tensor.to(kInt64); }, "to:"};
    t["to_float32"] = {[](const Inputs& in) { return in[0].tensor.to(kFloat32); }, "to:"};
    t["to_float64"] = {[](const Inputs& in) { return in[0].tensor.to(kFloat64); }, "to:"};
    t["concat_0"] = {[](const Inputs& in) { return concat({in[0].tensor, in[1].tensor}, 0); }, "concat:"};
    // ops of issue [Ops] item 1
    using Unary = Tensor (*)(const Tensor&);
    for (const auto& [op, f] : std::vector<std::pair<std::string, Unary>>{{"log1p", &unroll::log1p},
                                                                          {"expm1", &unroll::expm1},
                                                                          {"sin", &unroll::sin},
                                                                          {"cos", &unroll::cos},
                                                                          {"sign", &unroll::sign},
                                                                          {"floor", &unroll::floor},
                                                                          {"ceil", &unroll::ceil},
                                                                          {"round", &unroll::round},
                                                                          {"silu", &unroll::silu}})
      t[op] = {[f](const Inputs& in) { return f(in[0].tensor); }, op + ":"};
    t["softplus"] = {[](const Inputs& in) { return softplus(in[0].tensor); }, "softplus:"};
    t["gelu"] = {[](const Inputs& in) { return gelu(in[0].tensor); }, "gelu:"};
    t["elu"] = {[](const Inputs& in) { return elu(in[0].tensor); }, "elu:"};
    t["leaky_relu"] = {[](const Inputs& in) { return leaky_relu(in[0].tensor); }, "leaky_relu:"};
    t["maximum"] = {[](const Inputs& in) { return maximum(in[0].tensor, in[1].tensor); }, "maximum:"};
    t["minimum"] = {[](const Inputs& in) { return minimum(in[0].tensor, in[1].tensor); }, "minimum:"};
    t["cumsum_1"] = {[](const Inputs& in) { return cumsum(in[0].tensor, 1); }, "cumsum:"};
    t["min_all"] = {[](const Inputs& in) { return min(in[0].tensor); }, "min:"};
    t["min_1"] = {[](const Inputs& in) { return min(in[0].tensor, 1).values; }, "min:"};
    t["min_1_indices"] = {[](const Inputs& in) { return min(in[0].tensor, 1).indices; }, "min:"};
    t["max_1_indices"] = {[](const Inputs& in) { return max(in[0].tensor, 1).indices; }, "max:"};
    t["argmin_1"] = {[](const Inputs& in) { return argmin(in[0].tensor, 1); }, "argmin:"};
    t["sort_1"] = {[](const Inputs& in) { return sort(in[0].tensor, 1).values; }, "sort:"};
    t["sort_1_indices"] = {[](const Inputs& in) { return sort(in[0].tensor, 1).indices; }, "sort:"};
    t["argsort_1_desc"] = {[](const Inputs& in) { return argsort(in[0].tensor, 1, true); }, "argsort:"};
    t["topk_2_1"] = {[](const Inputs& in) { return topk(in[0].tensor, 2, 1).values; }, "topk:"};
    t["logsumexp_1"] = {[](const Inputs& in) { return logsumexp(in[0].tensor, {1}); }, "logsumexp:"};
    t["var_1"] = {[](const Inputs& in) { return var(in[0].tensor, {1}); }, "var:"};
    t["std_1"] = {[](const Inputs& in) { return unroll::std(in[0].tensor, {1}); }, "std:"};
    t["norm_1"] = {[](const Inputs& in) { return norm(in[0].tensor, 2, {1}); }, "norm:"};
    t["repeat_2_1"] = {[](const Inputs& in) { return repeat(in[0].tensor, {2, 1}); }, "repeat:"};
    t["pad_1_1"] = {[](const Inputs& in) { return pad(in[0].tensor, {1, 1}, 2.5); }, "pad:"};
    t["one_hot"] = {[](const Inputs& in) { return one_hot(in[0].tensor, 4); }, "one_hot:"};
    t["scatter_1"] = {[](const Inputs& in) { return scatter(in[0].tensor, 1, in[1].tensor, in[2].tensor); },
                      "scatter:"};
    t["scatter_add_1"] = {[](const Inputs& in) { return scatter_add(in[0].tensor, 1, in[1].tensor, in[2].tensor); },
                          "scatter_add:"};
    t["index_add_1"] = {[](const Inputs& in) { return index_add(in[0].tensor, 1, in[1].tensor, in[2].tensor); },
                        "index_add:"};
    t["einsum_ij_jk"] = {[](const Inputs& in) { return einsum("ij,jk->ik", {in[0].tensor, in[1].tensor}); },
                         "einsum:"};
    // in-place ops, on a copy of the first input (the number form when the second input is a number)
    const auto in_place = [](const char* op, auto with_tensor, auto with_number) -> Op {
      return {[with_tensor, with_number](const Inputs& in) {
                const Tensor self = clone(in[0].tensor);
                if (in[1].number)
                  with_number(self, *in[1].number);
                else
                  with_tensor(self, in[1].tensor);
                return self;
              },
              std::string(op) + ":"};
    };
    t["add_"] = in_place(
        "add_", [](const Tensor& s, const Tensor& o) { s.add_(o); }, [](const Tensor& s, Scalar v) { s.add_(v); });
    t["mul_"] = in_place(
        "mul_", [](const Tensor& s, const Tensor& o) { s.mul_(o); }, [](const Tensor& s, Scalar v) { s.mul_(v); });
    t["copy_"] = {[](const Inputs& in) {
                    const Tensor self = clone(in[0].tensor);
                    self.copy_(in[1].tensor);
                    return self;
                  },
                  "copy_:"};
    t["add_alpha"] = {[](const Inputs& in) {
                        const Tensor self = clone(in[0].tensor);
                        self.add_(in[1].tensor, *in[2].number);
                        return self;
                      },
                      "add_:"};
    t["fill_"] = {[](const Inputs& in) {
                    const Tensor self = clone(in[0].tensor);
                    self.fill_(*in[1].number);
                    return self;
                  },
                  "fill_:"};
    t["clamp_"] = {[](const Inputs& in) {
                     const Tensor self = clone(in[0].tensor);
                     self.clamp_(*in[1].number, *in[2].number);
                     return self;
                   },
                   "clamp_:"};
    return t;
  }();
  return table;
}

const unroll_test::Fixtures& fixtures() {
  static const unroll_test::Fixtures f = unroll_test::load_fixtures(UNROLL_FIXTURES_DIR "/dtype_reference.txt");
  return f;
}

// The op a case is named after: "add__i_f" -> "add"; an in-place op's name ends in '_': "add___i_f" -> "add_".
std::string op_of(const std::string& case_name) {
  size_t end = case_name.find("__");
  while (end != std::string::npos && end + 2 < case_name.size() && case_name[end + 2] == '_') ++end;
  return case_name.substr(0, end);
}

DType dtype_named(const std::string& dtype) {
  if (dtype == "bool") return kBool;
  if (dtype == "int64") return kInt64;
  if (dtype == "float32") return kFloat32;
  REQUIRE(dtype == "float64");
  return kFloat64;
}

Shape to_shape(const std::vector<int64_t>& dims) { return Shape(dims.begin(), dims.end()); }

Tensor to_tensor(const unroll_test::FixtureTensor& ft) {
  const DType dtype = dtype_named(ft.dtype);
  if (dtype == kInt64 || dtype == kBool) return tensor(ft.int_values, to_shape(ft.shape), dtype);
  return tensor(ft.values, to_shape(ft.shape), dtype);  // exact: the values are the dtype's own
}

// A Python number: its kind is the line's dtype (int64: int, float64: float, bool: bool).
Scalar to_number(const unroll_test::FixtureTensor& ft) {
  REQUIRE(ft.shape.empty());
  if (ft.dtype == "bool") return Scalar(ft.int_values[0] != 0);
  if (ft.dtype == "int64") return Scalar(ft.int_values[0]);
  REQUIRE(ft.dtype == "float64");
  return Scalar(ft.values[0]);
}

// Floating values: equal up to a few units in the last place of the dtype; NaN only against NaN, an
// infinity only against the same infinity.
bool close(double a, double b, DType dtype) {
  if (std::isnan(b) || std::isnan(a)) return std::isnan(a) && std::isnan(b);
  if (std::isinf(b) || std::isinf(a)) return a == b;
  const double ulps =
      4 * (dtype == kFloat32 ? std::numeric_limits<float>::epsilon() : std::numeric_limits<double>::epsilon());
  return std::abs(a - b) <= ulps * std::max(std::abs(b), static_cast<double>(std::numeric_limits<float>::min()));
}

// Runs one case; returns an empty string when unroll behaves as torch did.
std::string run_case(const unroll_test::Case& c, const Op& op) {
  std::ostringstream problems;
  problems.precision(17);
  Inputs inputs;
  for (int i = 0; i < c.num_inputs(); ++i) {
    const std::string index = std::to_string(i);
    Operand operand;
    if (c.has("in" + index))
      operand.tensor = to_tensor(c.at("in" + index));
    else
      operand.number = to_number(c.at("num" + index));
    inputs.push_back(operand);
  }
  Tensor out;
  try {
    out = op.fn(inputs);
  } catch (const Error& e) {
    const std::string message = e.what();
    if (!c.raises)
      problems << " unroll threw '" << message << "', torch gave a result";
    else if (message.rfind(op.error_prefix, 0) != 0)
      problems << " threw '" << message << "', which does not start with '" << op.error_prefix << "'";
    return problems.str();
  } catch (const std::exception& e) {
    return std::string(" threw a non-unroll exception: ") + e.what();
  }
  if (c.raises) {
    problems << " torch raised '" << c.raises_message << "', unroll returned " << out.to_string();
    return problems.str();
  }
  const unroll_test::FixtureTensor& expected = c.at("out");
  const DType dtype = dtype_named(expected.dtype);
  if (out.dtype() != dtype) problems << " dtype " << name(out.dtype()) << ", torch " << name(dtype) << ";";
  if (out.shape() != to_shape(expected.shape)) {
    problems << " shape " << to_string(out.shape()) << ", torch " << to_string(to_shape(expected.shape));
    return problems.str();
  }
  if (dtype == kInt64 || dtype == kBool) {
    const Tensor as_int64 = out.to(kInt64);  // exact for bool and int64; what a wrong floating dtype holds
    if (as_int64.to_vector<int64_t>() != expected.int_values) problems << " values " << out.to_string();
  } else if (out.is_floating_point()) {
    const std::vector<double> got = out.to(kFloat64).to_vector<double>();
    for (size_t i = 0; i < got.size(); ++i)
      if (!close(got[i], expected.values[i], dtype))
        problems << " [" << i << "]: " << got[i] << ", torch " << expected.values[i];
  } else {
    problems << " values " << out.to_string();
  }
  return problems.str();
}

}  // namespace

TEST_CASE("every dtype fixture case has a lambda and every lambda a case") {
  const auto& cases = fixtures();
  const auto& table = op_table();
  CHECK(cases.size() >= 900);
  std::map<std::string, int> per_op;
  for (const auto& [name, c] : cases) {
    CHECK_MESSAGE(table.count(op_of(name)) == 1, "fixture case '" << name << "' has no lambda");
    ++per_op[op_of(name)];
  }
  for (const auto& [op, entry] : table)
    CHECK_MESSAGE(per_op[op] > 0, "lambda '" << op << "' has no fixture case (re-run tests/gen_fixtures.py?)");
}

TEST_CASE("the fixture holds the promotion table, comparisons, reductions and torch's errors") {
  const auto& cases = fixtures();
  // every dtype pair for each arithmetic op, with dims, rank 0 and numbers
  for (const char* op : {"add", "sub", "mul", "div"})
    for (const char* a : {"b", "i", "f", "d"})
      for (const char* b : {"b", "i", "f", "d", "b0", "i0", "f0", "d0", "num_int", "num_float", "num_bool"}) {
        const std::string name = std::string(op) + "__" + a + "_" + b;
        CHECK_MESSAGE(cases.count(name) == 1, name);
      }
  // the values are read exactly: int64 beyond 2^53, NaN
  CHECK(cases.at("sum_all__i").at("out").int_values == std::vector<int64_t>{(int64_t{1} << 60) + 17});
  CHECK(std::isnan(cases.at("max_all__f").at("out").values[0]));
  CHECK(cases.at("sub__b_b").raises);
  CHECK(cases.at("mean_all__i").raises);
  CHECK(cases.at("add__i_f").at("out").dtype == "float32");
  CHECK(cases.at("add__f_d0").at("out").dtype == "float32");
  CHECK(cases.at("add__f0_d0").at("out").dtype == "float64");
}

TEST_CASE("dtypes agree with PyTorch: result dtypes, values and errors") {
  const auto& cases = fixtures();
  const auto& table = op_table();
  std::map<std::string, const unroll_test::Case*> sorted;  // stable order for the report
  for (const auto& [name, c] : cases) sorted[name] = &c;
  int passed = 0, errors = 0;
  for (const auto& [name, c] : sorted) {
    auto it = table.find(op_of(name));
    if (it == table.end()) continue;  // reported above
    const std::string problems = run_case(*c, it->second);
    CHECK_MESSAGE(problems.empty(), "case " << name << " disagrees with torch:" << problems);
    passed += problems.empty();
    errors += c->raises;
  }
  MESSAGE(passed << " of " << sorted.size() << " dtype cases agree with torch (" << errors << " of them errors)");
}
