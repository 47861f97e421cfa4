// <unroll/unroll.hpp>: everything a model script needs.
//
//   #include <unroll/unroll.hpp>
//   using namespace unroll;
//
// Headers stay light (no xtensor, no BLAS) so scripts compile in a few seconds; interop with xtensor
// arrays is opt-in through <unroll/framework/xtensor_interop.hpp>.
#pragma once

#include "unroll/framework/anomaly.hpp"
#include "unroll/framework/autograd.hpp"
#include "unroll/framework/config.hpp"
#include "unroll/framework/dtype.hpp"
#include "unroll/framework/error.hpp"
#include "unroll/framework/floating_point.hpp"
#include "unroll/framework/gradcheck.hpp"
#include "unroll/framework/gradient_checkpoint.hpp"
#include "unroll/framework/graph_export.hpp"
#include "unroll/framework/ops.hpp"
#include "unroll/framework/shape.hpp"
#include "unroll/framework/tensor.hpp"
#include "unroll/framework/threads.hpp"
#include "unroll/layers/activation.hpp"
#include "unroll/layers/cell.hpp"
#include "unroll/layers/coupled_lstm_cell.hpp"
#include "unroll/layers/dropout.hpp"
#include "unroll/layers/embedding.hpp"
#include "unroll/layers/gru_cell.hpp"
#include "unroll/layers/init.hpp"
#include "unroll/layers/irnn.hpp"
#include "unroll/layers/jordan_cell.hpp"
#include "unroll/layers/linear.hpp"
#include "unroll/layers/lstm_cell.hpp"
#include "unroll/layers/module.hpp"
#include "unroll/layers/peephole_lstm_cell.hpp"
#include "unroll/layers/rnn.hpp"
#include "unroll/layers/rnn_cell.hpp"
#include "unroll/layers/sequence.hpp"
#include "unroll/layers/sequential.hpp"
#include "unroll/layers/unroller.hpp"
#include "unroll/optim/adagrad.hpp"
#include "unroll/optim/adam.hpp"
#include "unroll/optim/checkpoint.hpp"
#include "unroll/optim/clip.hpp"
#include "unroll/optim/optimizer.hpp"
#include "unroll/optim/rmsprop.hpp"
#include "unroll/optim/schedule.hpp"
#include "unroll/optim/sgd.hpp"
