// unroll/framework/config.hpp: build-wide names.
#pragma once

namespace unroll {

// float: the C++ type of float32, the default dtype. Tensors carry their dtype at run time (dtype.hpp);
// `real` only names the default dtype's element type in code that works on it (t.data<real>()).
using real = float;

}  // namespace unroll
