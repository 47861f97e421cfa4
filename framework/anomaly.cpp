// Anomaly detection: the thread-local flag and the checks the engine runs while it is on
// (framework/anomaly.hpp explains the mode; autograd.cpp calls the hooks).
#include "unroll/framework/anomaly.hpp"

#include <cmath>
#include <string>

#include "unroll/framework/detail/anomaly.hpp"
#include "unroll/framework/detail/dispatch.hpp"

namespace unroll {

namespace detail {

thread_local constinit bool t_anomaly_enabled = false;

namespace {
// Position of the first NaN or Inf in t, or -1 when every element is finite (always, for bool and int64).
int64_t first_non_finite(const Tensor& t) {
  if (!t.is_floating_point()) return -1;
  return visit_floating("anomaly", t.dtype(), [&]<class T>() -> int64_t {
    const T* p = t.impl()->data<T>();
    for (int64_t i = 0, n = t.numel(); i < n; ++i)
      if (!std::isfinite(p[i])) [[unlikely]]
        return i;
    return -1;
  });
}

// "NaN", "Inf" or "-Inf" for element i of a floating tensor.
const char* kind(const Tensor& t, int64_t i) {
  const double v =
      visit_floating("anomaly", t.dtype(), [&]<class T>() { return static_cast<double>(t.impl()->data<T>()[i]); });
  return std::isnan(v) ? "NaN" : v > 0 ? "Inf" : "-Inf";
}

std::string at_step(int64_t time_step) {
  return time_step >= 0 ? fmt::format(" at time step {}", time_step) : std::string();
}
}  // namespace

void anomaly_check_output(const Tensor& output, const char* op, int64_t time_step, const std::vector<Tensor>& inputs) {
  const int64_t bad = first_non_finite(output);
  if (bad < 0) return;
  std::string origin = "its inputs were finite";
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined()) continue;
    const int64_t in_bad = first_non_finite(inputs[i]);
    if (in_bad >= 0) {
      origin = fmt::format("its input {} (shape {}) already held {} at element {}", i, inputs[i].shape(),
                           kind(inputs[i], in_bad), in_bad);
      break;
    }
  }
  throw Error(fmt::format("anomaly: op '{}'{} produced {} in its output of shape {} (element {}); {}", op,
                          at_step(time_step), kind(output, bad), output.shape(), bad, origin));
}

void anomaly_check_gradient(const Tensor& grad, const char* op, int64_t time_step, int input) {
  const int64_t bad = first_non_finite(grad);
  if (bad < 0) return;
  throw Error(
      fmt::format("anomaly: backward of op '{}'{} produced {} in the gradient of input {} (shape {}, element {})", op,
                  at_step(time_step), kind(grad, bad), input, grad.shape(), bad));
}

}  // namespace detail

bool is_anomaly_enabled() { return detail::t_anomaly_enabled; }
void set_detect_anomaly(bool on) { detail::t_anomaly_enabled = on; }

}  // namespace unroll
