// <unroll/unroll.hpp>: everything a model script needs.
//
//   #include <unroll/unroll.hpp>
//   using namespace unroll;
//
// Headers stay light (no xtensor, no BLAS) so scripts compile in a few seconds; interop with xtensor
// arrays is opt-in through <unroll/framework/xtensor_interop.hpp>.
#pragma once

#include "unroll/framework/autograd.hpp"
#include "unroll/framework/config.hpp"
#include "unroll/framework/error.hpp"
#include "unroll/framework/gradcheck.hpp"
#include "unroll/framework/ops.hpp"
#include "unroll/framework/shape.hpp"
#include "unroll/framework/tensor.hpp"
