// Tests for framework/xtensor_interop.hpp.
#include <doctest/doctest.h>

#include <unroll/framework/xtensor_interop.hpp>
#include <unroll/unroll.hpp>
#include <xtensor/xbuilder.hpp>

using namespace unroll;

TEST_CASE("from_xarray and to_xarray round-trip shape and values") {
  const xt::xarray<real> a = {{1, 2, 3}, {4, 5, 6}};
  const Tensor t = from_xarray(a);
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.at({1, 0}) == 4);
  const xt::xarray<real> back = to_xarray(t * 2);
  CHECK(back.shape() == std::vector<size_t>{2, 3});
  CHECK(back(1, 2) == 12);
  // any expression works, and column-major input is reordered into row-major values
  CHECK(from_xarray(xt::arange<real>(6)).to_vector() == arange(6).to_vector());
  xt::xarray<real, xt::layout_type::column_major> col = {{1, 2}, {3, 4}};
  CHECK(from_xarray(col).to_vector() == std::vector<real>{1, 2, 3, 4});
}
