// Tests for framework/xtensor_interop.hpp.
#include <doctest/doctest.h>

#include <unroll/framework/xtensor_interop.hpp>
#include <unroll/unroll.hpp>
#include <xtensor/xbuilder.hpp>

using namespace unroll;

TEST_CASE("from_xarray and to_xarray round-trip shape and values") {
  const xt::xarray<float> a = {{1, 2, 3}, {4, 5, 6}};
  const Tensor t = from_xarray(a);
  CHECK(t.dtype() == kFloat32);
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.at({1, 0}) == 4);
  const xt::xarray<float> back = to_xarray(t * 2);
  CHECK(back.shape() == std::vector<size_t>{2, 3});
  CHECK(back(1, 2) == 12);
  // any expression works, and column-major input is reordered into row-major values
  CHECK(from_xarray(xt::arange<float>(6)).to_vector() == arange(6).to(kFloat32).to_vector());
  xt::xarray<float, xt::layout_type::column_major> col = {{1, 2}, {3, 4}};
  CHECK(from_xarray(col).to_vector() == std::vector<float>{1, 2, 3, 4});
}

TEST_CASE("the array's value type picks the dtype, and to_xarray reads the tensor's element type") {
  const xt::xarray<double> d = {{0.1, 0.2}};
  const Tensor td = from_xarray(d);
  CHECK(td.dtype() == kFloat64);
  CHECK(td.at<double>({0, 1}) == 0.2);  // not rounded through float
  CHECK(to_xarray<double>(td)(0, 0) == 0.1);
  const Tensor ti = from_xarray(xt::xarray<int>{3, -4});
  CHECK(ti.dtype() == kInt64);
  CHECK(to_xarray<int64_t>(ti)(1) == -4);
  const Tensor tb = from_xarray(xt::xarray<bool>{true, false});
  CHECK(tb.dtype() == kBool);
  CHECK(tb.to_vector<bool>() == std::vector<bool>{true, false});
  CHECK_THROWS_AS(to_xarray<float>(td), Error);  // the element type must match the dtype
}
