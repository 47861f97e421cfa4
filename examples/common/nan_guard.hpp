// examples/common/nan_guard.hpp: stop a training loop that has diverged (not part of the library).
//
//   const double loss_value = loss.item();
//   examples::stop_if_not_finite(loss_value, step);  // exits 1 with a hint instead of printing "loss nan"
//
// A program (unlike the library) may print and exit. To find the op that first produced the NaN, run the
// step under unroll::DetectAnomalyGuard (framework/anomaly.hpp).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace examples {

inline void stop_if_not_finite(double loss, int64_t step) {
  if (std::isfinite(loss)) return;
  std::fflush(stdout);
  std::fprintf(stderr, "training diverged at step %lld: loss is %s — try a lower --lr or --clip\n",
               static_cast<long long>(step), std::isnan(loss) ? "nan" : loss > 0 ? "inf" : "-inf");
  std::exit(1);
}

}  // namespace examples
