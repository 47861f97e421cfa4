#include "unroll/framework/shape.hpp"

#include "unroll/framework/detail/check.hpp"

namespace unroll {

Shape::Shape(std::initializer_list<int64_t> dims) {
  for (int64_t d : dims) push_back(d);
}

void Shape::push_back(int64_t d) {
  detail::check(rank_ < kMaxRank, "Shape: at most {} dimensions are supported", kMaxRank);
  dims_[rank_++] = d;
}

void Shape::insert(int pos, int64_t d) {
  detail::check(rank_ < kMaxRank, "Shape: at most {} dimensions are supported", kMaxRank);
  for (int i = rank_; i > pos; --i) dims_[i] = dims_[i - 1];
  dims_[pos] = d;
  ++rank_;
}

void Shape::erase(int pos) {
  for (int i = pos; i + 1 < rank_; ++i) dims_[i] = dims_[i + 1];
  --rank_;
}

std::string to_string(const Shape& s) {
  std::string out = "[";
  for (int i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  return out + "]";
}

namespace detail {
int normalize_axis(const char* op, int axis, int rank, const Shape& shape) {
  check(axis >= -rank && axis < rank, "{}: axis {} is out of range for a tensor of shape {}", op, axis, shape);
  return axis < 0 ? axis + rank : axis;
}
}  // namespace detail

}  // namespace unroll
