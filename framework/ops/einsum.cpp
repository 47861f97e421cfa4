// einsum, a composite: every step is an op with its own backward (to, index_select for diagonals, sum,
// expand, permute, reshape, matmul), so einsum needs none.
//
//   "ij,jk->ik"   one matmul [M, K] x [K, N]
//   "bij,bjk->bik" one batched matmul [B, M, K] x [B, K, N]
//   "ii->i", "ii" diagonal (index_select on the flattened pair of axes), trace (its sum)
//   "...ij,...jk" ellipsis dims broadcast like any other batch dims
//
// Plan: parse the subscripts into labels (52 letters, then one label per dim covered by "..."), check that
// the operands share one floating dtype, take the diagonal of labels repeated within an operand, sum out labels
// that no other operand and not the output has, then contract the operands left to right: labels both sides
// share are batch dims if still needed later, otherwise summed over; each pair becomes ONE matmul of the
// operands permuted and reshaped to [batch, M, K] x [batch, K, N]. Finally permute to the output's order.
#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/detail/kernels.hpp"
#include "unroll/framework/ops.hpp"

namespace unroll {

using detail::check;
using detail::fail;

namespace {

constexpr int kLetters = 52;           // 'A'..'Z' -> 0..25, 'a'..'z' -> 26..51 (ASCII order, as torch sorts)
constexpr int kEllipsis = -1;          // marks "..." while parsing
constexpr int kMaxLabels = kLetters + Shape::kMaxRank;  // letters, then the dims "..." covers

int letter_label(char ch) { return ch >= 'a' ? 26 + (ch - 'a') : ch - 'A'; }
char label_char(int label) {
  return label < 26 ? static_cast<char>('A' + label) : label < kLetters ? static_cast<char>('a' + label - 26) : '.';
}

// One term ("ij", "...ij") as letter labels with kEllipsis where "..." stands.
std::vector<int> parse_term(std::string_view equation, std::string_view term, bool output) {
  std::vector<int> labels;
  bool ellipsis = false;
  for (size_t i = 0; i < term.size(); ++i) {
    const char ch = term[i];
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) {
      labels.push_back(letter_label(ch));
    } else if (ch == '.') {
      if (term.substr(i, 3) != "..." || ellipsis)
        fail("einsum: '.' that is not part of one \"...\" in {} \"{}\" (equation \"{}\")", output ? "the output" : "term",
             std::string(term), std::string(equation));
      ellipsis = true;
      labels.push_back(kEllipsis);
      i += 2;
    } else {
      fail("einsum: invalid subscript '{}' in equation \"{}\" (letters, \"...\", ',' and \"->\" only)", ch,
           std::string(equation));
    }
  }
  return labels;
}

// An operand and the label of each of its dims.
struct Labeled {
  Tensor t;
  std::vector<int> labels;
};

// Moves axes p and q (p < q, equal sizes) to the end and keeps their diagonal: [..., n, ..., n, ...] ->
// [..., n] with the label of p last.
Labeled diagonal(const Labeled& x, int p, int q) {
  const int rank = x.t.dim();
  std::vector<int> perm;
  std::vector<int> labels;
  for (int d = 0; d < rank; ++d)
    if (d != p && d != q) perm.push_back(d), labels.push_back(x.labels[d]);
  perm.push_back(p);
  perm.push_back(q);
  labels.push_back(x.labels[p]);
  const int64_t n = x.t.shape()[p];
  Shape flat;
  for (int d = 0; d < rank - 2; ++d) flat.push_back(x.t.shape()[perm[d]]);
  flat.push_back(n * n);
  // element (i, i) of the trailing [n, n] block sits at i * (n + 1)
  const Tensor picked = index_select(reshape(permute(x.t, perm), flat), -1, arange(int64_t{0}, n * n, n + 1));
  return {picked, labels};
}

// Sums the dims whose label is not in `keep`.
Labeled sum_out(const Labeled& x, const std::array<bool, kMaxLabels>& keep) {
  std::vector<int> axes, labels;
  for (int d = 0; d < x.t.dim(); ++d) (keep[x.labels[d]] ? labels.push_back(x.labels[d]) : axes.push_back(d));
  if (axes.empty()) return x;
  return {sum(x.t, axes), labels};
}

// x permuted so its labels come in `order` (which holds exactly x's labels); no copy when already so.
Tensor arrange(const Labeled& x, const std::vector<int>& order) {
  std::vector<int> perm;
  for (int label : order) perm.push_back(static_cast<int>(std::find(x.labels.begin(), x.labels.end(), label) - x.labels.begin()));
  bool identity = true;
  for (size_t i = 0; i < perm.size(); ++i) identity = identity && perm[i] == static_cast<int>(i);
  return identity ? x.t : permute(x.t, perm);
}

int64_t size_of(const Labeled& x, int label) {
  return x.t.shape()[static_cast<int>(std::find(x.labels.begin(), x.labels.end(), label) - x.labels.begin())];
}

// a (labels la) and b contracted into one tensor whose labels are batch + left + right: labels in both
// that `keep` needs are batch dims, the other shared ones are summed by the product. One matmul.
Labeled contract(Labeled a, Labeled b, const std::array<bool, kMaxLabels>& keep) {
  std::array<bool, kMaxLabels> in_a{}, in_b{};
  for (int l : a.labels) in_a[l] = true;
  for (int l : b.labels) in_b[l] = true;
  // labels on one side only that nothing later needs: sum them first
  std::array<bool, kMaxLabels> keep_a = keep, keep_b = keep;
  for (int l = 0; l < kMaxLabels; ++l) keep_a[l] = keep[l] || in_b[l], keep_b[l] = keep[l] || in_a[l];
  a = sum_out(a, keep_a);
  b = sum_out(b, keep_b);
  std::vector<int> batch, left, right, summed;
  for (int l : a.labels) (in_b[l] ? (keep[l] ? batch : summed) : left).push_back(l);
  for (int l : b.labels)
    if (!in_a[l]) right.push_back(l);
  // shared labels of size 1 on one side broadcast to the other's size
  Shape a_target = a.t.shape(), b_target = b.t.shape();
  for (int l : a.labels) {
    if (!in_b[l]) continue;
    const int64_t sa = size_of(a, l), sb = size_of(b, l);
    const int64_t s = sa == 1 ? sb : sa;
    a_target[static_cast<int>(std::find(a.labels.begin(), a.labels.end(), l) - a.labels.begin())] = s;
    b_target[static_cast<int>(std::find(b.labels.begin(), b.labels.end(), l) - b.labels.begin())] = s;
  }
  if (a_target != a.t.shape()) a.t = expand(a.t, a_target);
  if (b_target != b.t.shape()) b.t = expand(b.t, b_target);
  // [batch, left, summed] x [batch, summed, right] -> [Bt, M, K] x [Bt, K, N]
  std::vector<int> a_order = batch, b_order = batch;
  a_order.insert(a_order.end(), left.begin(), left.end());
  a_order.insert(a_order.end(), summed.begin(), summed.end());
  b_order.insert(b_order.end(), summed.begin(), summed.end());
  b_order.insert(b_order.end(), right.begin(), right.end());
  int64_t bt = 1, m = 1, k = 1, n = 1;
  Shape out_shape;
  for (int l : batch) bt *= size_of(a, l), out_shape.push_back(size_of(a, l));
  for (int l : left) m *= size_of(a, l), out_shape.push_back(size_of(a, l));
  for (int l : summed) k *= size_of(a, l);
  for (int l : right) n *= size_of(b, l), out_shape.push_back(size_of(b, l));
  const Tensor a3 = arrange(a, a_order), b3 = arrange(b, b_order);
  const Tensor product = bt == 1 ? matmul(reshape(a3, {m, k}), reshape(b3, {k, n}))
                                 : matmul(reshape(a3, {bt, m, k}), reshape(b3, {bt, k, n}));
  std::vector<int> labels = batch;
  labels.insert(labels.end(), left.begin(), left.end());
  labels.insert(labels.end(), right.begin(), right.end());
  return {reshape(product, out_shape), labels};
}

}  // namespace

Tensor einsum(std::string_view equation_in, const std::vector<Tensor>& operands) {
  for (size_t i = 0; i < operands.size(); ++i)
    check(operands[i].defined(), "einsum: operand {} is an undefined tensor", i);
  check(!operands.empty(), "einsum: no operands given for equation \"{}\"", std::string(equation_in));
  std::string equation;
  for (char ch : equation_in)
    if (ch != ' ') equation += ch;
  // ---- parse ----
  const size_t arrow = equation.find("->");
  const std::string lhs = equation.substr(0, arrow);
  std::vector<std::vector<int>> terms;
  for (size_t start = 0;;) {
    const size_t comma = lhs.find(',', start);
    terms.push_back(parse_term(equation, std::string_view(lhs).substr(start, comma - start), false));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  check(terms.size() == operands.size(), "einsum: the equation \"{}\" has {} operands but {} tensors were given",
        equation, terms.size(), operands.size());
  // ---- labels of every dim; "..." covers the dims the letters leave, right-aligned across operands ----
  int ellipsis_rank = 0;
  std::vector<int> covered(operands.size(), 0);
  for (size_t i = 0; i < terms.size(); ++i) {
    const bool has_ellipsis = std::count(terms[i].begin(), terms[i].end(), kEllipsis) > 0;
    const int letters = static_cast<int>(terms[i].size()) - (has_ellipsis ? 1 : 0);
    const int rank = operands[i].dim();
    if (has_ellipsis ? rank < letters : rank != letters)
      fail("einsum: operand {} has shape {} ({} dims) but its subscripts in \"{}\" name {}{}", i, operands[i].shape(),
           rank, equation, letters, has_ellipsis ? " or more" : "");
    covered[i] = rank - letters;
    ellipsis_rank = std::max(ellipsis_rank, covered[i]);
  }
  std::vector<Labeled> ops;
  std::array<int64_t, kMaxLabels> size{};
  size.fill(-1);
  std::array<int, kMaxLabels> count{};  // how often each label appears in the inputs ("ii" counts 2, as torch)
  // one floating dtype for all operands, as torch.einsum (which does not promote)
  const DType dt = operands[0].dtype();
  for (const Tensor& operand : operands) {
    check(is_floating_point(operand.dtype()),
          "einsum: operands must be floating tensors (float32, float64), got {} (equation \"{}\")",
          name(operand.dtype()), equation);
    check(operand.dtype() == dt, "einsum: operands must have one dtype, got {} and {} (equation \"{}\")", name(dt),
          name(operand.dtype()), equation);
  }
  for (size_t i = 0; i < terms.size(); ++i) {
    Labeled x{to(operands[i], dt), {}};
    for (int l : terms[i]) {
      if (l != kEllipsis) {
        x.labels.push_back(l);
        continue;
      }
      for (int e = ellipsis_rank - covered[i]; e < ellipsis_rank; ++e) x.labels.push_back(kLetters + e);
    }
    for (int d = 0; d < x.t.dim(); ++d) {
      const int l = x.labels[d];
      const int64_t s = x.t.shape()[d];
      if (size[l] == -1 || size[l] == 1)
        size[l] = s;
      else if (s != 1 && s != size[l])
        fail("einsum: subscript '{}' has size {} in operand {} (shape {}) but {} elsewhere (equation \"{}\")",
             label_char(l), s, i, x.t.shape(), size[l], equation);
      ++count[l];
    }
    ops.push_back(std::move(x));
  }
  // ---- the output's labels ----
  std::vector<int> output;
  if (arrow == std::string::npos) {  // implicit: "...", then the letters seen exactly once, in ASCII order
    for (int e = 0; e < ellipsis_rank; ++e) output.push_back(kLetters + e);
    for (int l = 0; l < kLetters; ++l)
      if (count[l] == 1) output.push_back(l);
  } else {
    for (int l : parse_term(equation, std::string_view(equation).substr(arrow + 2), true)) {
      if (l == kEllipsis) {
        for (int e = 0; e < ellipsis_rank; ++e) output.push_back(kLetters + e);
        continue;
      }
      check(std::find(output.begin(), output.end(), l) == output.end(),
            "einsum: output subscript '{}' appears more than once in \"{}\"", label_char(l), equation);
      check(count[l] > 0, "einsum: output subscript '{}' does not appear in any operand of \"{}\"", label_char(l),
            equation);
      output.push_back(l);
    }
  }
  std::array<bool, kMaxLabels> in_output{};
  for (int l : output) in_output[l] = true;
  // ---- per operand: diagonals of repeated labels, then sum out labels no one else needs ----
  for (size_t i = 0; i < ops.size(); ++i) {
    for (bool repeated = true; repeated;) {
      repeated = false;
      for (int p = 0; p < ops[i].t.dim() && !repeated; ++p)
        for (int q = p + 1; q < ops[i].t.dim() && !repeated; ++q)
          if (ops[i].labels[p] == ops[i].labels[q]) {
            check(ops[i].t.shape()[p] == ops[i].t.shape()[q],
                  "einsum: subscript '{}' repeated in operand {} has sizes {} and {} (shape {}, equation \"{}\")",
                  label_char(ops[i].labels[p]), i, ops[i].t.shape()[p], ops[i].t.shape()[q], operands[i].shape(),
                  equation);
            ops[i] = diagonal(ops[i], p, q);
            repeated = true;
          }
    }
    std::array<bool, kMaxLabels> keep = in_output;
    for (size_t j = 0; j < ops.size(); ++j)
      if (j != i)
        for (int l : ops[j].labels) keep[l] = true;
    ops[i] = sum_out(ops[i], keep);
  }
  // ---- contract left to right ----
  Labeled result = ops[0];
  for (size_t i = 1; i < ops.size(); ++i) {
    std::array<bool, kMaxLabels> keep = in_output;  // what the output and the operands still to come need
    for (size_t j = i + 1; j < ops.size(); ++j)
      for (int l : ops[j].labels) keep[l] = true;
    result = contract(result, ops[i], keep);
  }
  result = sum_out(result, in_output);
  // a label the output names but whose dims all broadcast away (size 1 here, larger elsewhere) expands
  Shape out_shape;
  for (int l : output) out_shape.push_back(size[l]);
  Tensor out = arrange(result, output);
  if (out.shape() != out_shape) out = expand(out, out_shape);
  // every op above may have returned an input itself (a single operand and "ij->ij"): einsum gives a new tensor
  for (const Tensor& operand : operands)
    if (out.impl() == operand.impl()) return clone(out);
  return out;
}

}  // namespace unroll
