// unroll/framework/anomaly.hpp: anomaly detection, a debugging mode that finds the first NaN or Inf.
//
//   {
//     DetectAnomalyGuard anomaly;  // this thread, this scope
//     Tensor loss = model(x);      // throws at the first recorded op whose output holds NaN or Inf
//     loss.backward();             // throws at the first backward that hands an input a NaN/Inf gradient
//   }
//
// While it is on (a thread-local flag, like grad mode):
//  - forward: every op that records a node (grad mode on and some input requires grad) checks its output;
//    the first one holding NaN or +-Inf throws unroll::Error naming the op, the time step when it ran
//    inside a recurrent layer, and whether its inputs were already non-finite:
//      "anomaly: op 'log' at time step 17 produced NaN in its output of shape [4, 8] (element 5); its
//       inputs were finite"
//    Ops run under NoGradGuard, or on tensors that require no grad, are not checked.
//  - backward: every gradient an op's backward hands to the engine is checked; the first NaN/Inf throws
//      "anomaly: backward of op 'tanh' at time step 17 produced NaN in the gradient of input 0 (shape
//       [4, 8], element 3)"
//    (matmul weight gradients are then computed per product rather than gathered into one GEMM, so the
//    message names the product that failed).
// Off (the default) it costs one thread-local bool test per recorded op and per gradient. On, every output
// and gradient is scanned once: use it to find a divergence, not to train.
//
// Inf counts as an anomaly: a mask built with -inf (masked_fill(x, mask, -INFINITY)) trips it; use a large
// finite value such as -1e9 instead while anomaly mode is on.
#pragma once

namespace unroll {

bool is_anomaly_enabled();           // this thread's flag
void set_detect_anomaly(bool on);    // set it (prefer the guard, which restores the previous value)

// While alive, anomaly detection is on (or off, with `on = false`) on this thread.
class DetectAnomalyGuard {
 public:
  explicit DetectAnomalyGuard(bool on = true) : previous_(is_anomaly_enabled()) { set_detect_anomaly(on); }
  ~DetectAnomalyGuard() { set_detect_anomaly(previous_); }
  DetectAnomalyGuard(const DetectAnomalyGuard&) = delete;
  DetectAnomalyGuard& operator=(const DetectAnomalyGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace unroll
