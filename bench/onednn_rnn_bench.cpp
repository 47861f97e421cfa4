// onednn_rnn_bench: the ceiling for bench/rnn_bench. The same model and step, computed with oneDNN's fused RNN
// primitives (lstm_forward/lstm_backward, lbr_gru_forward/lbr_gru_backward — the linear-before-reset GRU, which
// is PyTorch's and unroll's GRU — and vanilla_rnn_forward/vanilla_rnn_backward with tanh), so
// bench/compare_onednn can print unroll's ratio to them. A bench-only optional dependency (Debian's libdnnl-dev):
// bench/CMakeLists.txt builds this program only when oneDNN is found; the library never links it.
//
//   onednn_rnn_bench CELL LAYERS BATCH SEQ INPUT HIDDEN BIDIR [--no-grad] [--seconds S] [--threads T]
//   onednn_rnn_bench --check
//
// Model (as rnn_bench): CELL(INPUT -> HIDDEN, LAYERS, bidirectional) on x: [SEQ, BATCH, INPUT], a Linear head
// to 10 classes at every step, mean cross-entropy, clip_grad_norm 5, SGD lr 0.01. One step = zero the gradients,
// forward, backward, clip, update (--no-grad: forward and head only). 3 warm-up steps, then steps for >= S
// seconds (default 3) and >= 5 steps. Last line: tokens_per_s=<N> ms_per_step=<M> (tokens = SEQ * BATCH).
//
// How the step maps onto oneDNN:
// - One primitive per layer (oneDNN stacks layers in one primitive only when every layer has the same input
//   width); bidirectional layers use bidirectional_concat, so a layer's output is [SEQ, BATCH, 2 * HIDDEN]
//   with the forward direction first, as in PyTorch.
// - The initial states are explicit zero tensors, not empty descriptors: with empty ones oneDNN 2.6.3 returns
//   a wrong recurrent-weight gradient for unidirectional LSTM and RNN.
// - The parameters live in oneDNN's plain layouts (ldigo weights, ldgo bias; one bias per gate — the sum of
//   PyTorch's b_ih and b_hh — and the GRU's extra candidate bias). Training reorders the weights into each
//   primitive's preferred format every step (they change every step) and the gradients back; inference
//   reorders them once, at start-up (they do not change).
// - The head (logits = out * W^T + b), the cross-entropy and its gradient use dnnl_sgemm and plain loops;
//   the clip and SGD are plain loops over all parameters, head included.
// - Threads: oneDNN here runs on OpenMP; the program calls omp_set_num_threads(T) itself (T = 1 unless
//   --threads says otherwise), so OMP_NUM_THREADS does not matter.
//
// --check: one training step (and one inference forward) on small models — every cell, 1 and 2 layers,
// uni- and bidirectional, BATCH 3, SEQ 4, INPUT 5, HIDDEN 6 — against a straightforward double-precision
// loop of the same model: the output and the loss directly, the gradients by central differences of the
// double loss, then the clipped gradients and the updated parameters. Prints the largest relative errors
// (max |error| / max |reference| per tensor); exits 1 if one is above 1e-5.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dnnl.hpp>
#include <random>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace {

using dnnl::memory;
using Tag = memory::format_tag;
constexpr auto kF32 = memory::data_type::f32;
constexpr int64_t kClasses = 10;

enum class Cell { rnn, lstm, gru };

const char* cell_name(Cell c) { return c == Cell::lstm ? "lstm" : c == Cell::gru ? "gru" : "rnn"; }

struct Config {
  Cell cell = Cell::lstm;
  int64_t layers = 1, batch = 1, seq = 1, input = 1, hidden = 1;
  bool bidirectional = false;

  int64_t directions() const { return bidirectional ? 2 : 1; }
  int64_t gates() const { return cell == Cell::lstm ? 4 : cell == Cell::gru ? 3 : 1; }
  int64_t bias_gates() const { return cell == Cell::gru ? 4 : gates(); }  // lbr_gru: + the candidate's U bias
  int64_t layer_input(int64_t l) const { return l == 0 ? input : features(); }
  int64_t features() const { return hidden * directions(); }  // width of a layer's output
  int64_t tokens() const { return seq * batch; }
};

float* data(const memory& m) { return static_cast<float*>(m.get_data_handle()); }

memory zeros(const memory::desc& md, const dnnl::engine& engine) {
  memory m(md, engine);
  std::memset(m.get_data_handle(), 0, md.get_size());
  return m;
}

void sgemm(char ta, char tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
           float beta, float* c, int64_t ldc) {
  if (dnnl_sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc) != dnnl_success) {
    std::fprintf(stderr, "onednn_rnn_bench: dnnl_sgemm failed (%lld x %lld x %lld)\n", (long long)m, (long long)n,
                 (long long)k);
    std::exit(1);
  }
}

// One parameter: its values, its gradient (both in the plain layout), its element count.
struct Parameter {
  std::string name;
  float* value;
  float* grad;
  size_t size;
};

// The forward (and, in training, backward) primitive of one layer with the descriptors they chose.
struct LayerPrimitives {
  dnnl::rnn_primitive_desc_base fwd_pd, bwd_pd;
  dnnl::primitive fwd, bwd;
};

LayerPrimitives make_primitives(const Config& c, int64_t in, bool training, const dnnl::engine& engine) {
  using dnnl::prop_kind;
  const int64_t T = c.seq, N = c.batch, H = c.hidden, D = c.directions(), G = c.gates();
  const auto dir =
      c.bidirectional ? dnnl::rnn_direction::bidirectional_concat : dnnl::rnn_direction::unidirectional_left2right;
  const memory::desc src_layer({T, N, in}, kF32, Tag::tnc), state({1, D, N, H}, kF32, Tag::ldnc),
      w_layer({1, D, in, G, H}, kF32, Tag::any), w_iter({1, D, H, G, H}, kF32, Tag::any),
      bias({1, D, c.bias_gates(), H}, kF32, Tag::ldgo), dst_layer({T, N, D * H}, kF32, Tag::tnc), none;
  const prop_kind prop = training ? prop_kind::forward_training : prop_kind::forward_inference;
  LayerPrimitives p;
  if (c.cell == Cell::lstm) {
    dnnl::lstm_forward::primitive_desc fwd(
        {prop, dir, src_layer, state, state, w_layer, w_iter, bias, dst_layer, none, none}, engine);
    p.fwd_pd = fwd;
    p.fwd = dnnl::lstm_forward(fwd);
    if (training) {
      dnnl::lstm_backward::primitive_desc bwd(
          {prop_kind::backward, dir,   src_layer, state,   state,  w_layer, w_iter,    bias, dst_layer, none, none,
           src_layer,           state, state,     w_layer, w_iter, bias,    dst_layer, none, none},
          engine, fwd);
      p.bwd_pd = bwd;
      p.bwd = dnnl::lstm_backward(bwd);
    }
  } else if (c.cell == Cell::gru) {
    dnnl::lbr_gru_forward::primitive_desc fwd({prop, dir, src_layer, state, w_layer, w_iter, bias, dst_layer, none},
                                              engine);
    p.fwd_pd = fwd;
    p.fwd = dnnl::lbr_gru_forward(fwd);
    if (training) {
      dnnl::lbr_gru_backward::primitive_desc bwd(
          {prop_kind::backward, dir, src_layer, state, w_layer, w_iter, bias, dst_layer, none, src_layer, state,
           w_layer, w_iter, bias, dst_layer, none},
          engine, fwd);
      p.bwd_pd = bwd;
      p.bwd = dnnl::lbr_gru_backward(bwd);
    }
  } else {
    const auto tanh = dnnl::algorithm::eltwise_tanh;
    dnnl::vanilla_rnn_forward::primitive_desc fwd(
        {prop, tanh, dir, src_layer, state, w_layer, w_iter, bias, dst_layer, none}, engine);
    p.fwd_pd = fwd;
    p.fwd = dnnl::vanilla_rnn_forward(fwd);
    if (training) {
      dnnl::vanilla_rnn_backward::primitive_desc bwd(
          {prop_kind::backward, tanh, dir, src_layer, state, w_layer, w_iter, bias, dst_layer, none, src_layer, state,
           w_layer, w_iter, bias, dst_layer, none},
          engine, fwd);
      p.bwd_pd = bwd;
      p.bwd = dnnl::vanilla_rnn_backward(bwd);
    }
  }
  return p;
}

// A reorder between two memories of different formats, built once and run every step.
struct Reorder {
  dnnl::reorder op;
  memory from, to;
};

// The model and its step. Training mode builds forward_training and backward primitives; inference mode
// builds forward_inference ones.
class Model {
 public:
  Model(const Config& c, bool training, uint64_t seed)
      : c_(c), training_(training), engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {
    const int64_t T = c.seq, N = c.batch, H = c.hidden, D = c.directions(), C = c.features();
    std::mt19937_64 gen(seed);
    auto uniform = [&](float* p, size_t n, double bound) {
      std::uniform_real_distribution<double> u(-bound, bound);
      for (size_t i = 0; i < n; ++i) p[i] = static_cast<float>(u(gen));
    };
    // io_[l]: input of layer l ([T, N, in_l]); io_[L]: the last layer's output. diff_io_ likewise for gradients.
    io_.push_back(memory({{T, N, c.input}, kF32, Tag::tnc}, engine_));
    std::normal_distribution<double> normal(0, 1);
    for (int64_t i = 0; i < T * N * c.input; ++i) data(io_[0])[i] = static_cast<float>(normal(gen));
    if (training) diff_io_.push_back(zeros({{T, N, c.input}, kF32, Tag::tnc}, engine_));
    for (int64_t l = 0; l < c.layers; ++l) {
      const int64_t in = c.layer_input(l);
      Layer layer;
      layer.p = make_primitives(c, in, training, engine_);
      const memory::desc w_layer({1, D, in, c.gates(), H}, kF32, Tag::ldigo),
          w_iter({1, D, H, c.gates(), H}, kF32, Tag::ldigo), bias({1, D, c.bias_gates(), H}, kF32, Tag::ldgo),
          state({1, D, N, H}, kF32, Tag::ldnc);
      layer.w_layer = memory(w_layer, engine_);
      layer.w_iter = memory(w_iter, engine_);
      layer.bias = memory(bias, engine_);
      const double bound = 1.0 / std::sqrt(double(H));  // PyTorch's RNN initialisation
      uniform(data(layer.w_layer), w_layer.get_size() / 4, bound);
      uniform(data(layer.w_iter), w_iter.get_size() / 4, bound);
      uniform(data(layer.bias), bias.get_size() / 4, bound);
      layer.src_iter = zeros(state, engine_);
      if (c.cell == Cell::lstm) layer.src_iter_c = zeros(state, engine_);
      layer.fwd_w_layer = in_format(layer.w_layer, layer.p.fwd_pd.weights_layer_desc(), pre_fwd_);
      layer.fwd_w_iter = in_format(layer.w_iter, layer.p.fwd_pd.weights_iter_desc(), pre_fwd_);
      io_.push_back(memory(layer.p.fwd_pd.dst_layer_desc(), engine_));
      if (training) {
        layer.workspace = memory(layer.p.fwd_pd.workspace_desc(), engine_);
        layer.dw_layer = zeros(w_layer, engine_);
        layer.dw_iter = zeros(w_iter, engine_);
        layer.dbias = zeros(bias, engine_);
        layer.bwd_w_layer = in_format(layer.w_layer, layer.p.bwd_pd.weights_layer_desc(), pre_bwd_);
        layer.bwd_w_iter = in_format(layer.w_iter, layer.p.bwd_pd.weights_iter_desc(), pre_bwd_);
        layer.bwd_dw_layer = out_format(layer.p.bwd_pd.diff_weights_layer_desc(), layer.dw_layer);
        layer.bwd_dw_iter = out_format(layer.p.bwd_pd.diff_weights_iter_desc(), layer.dw_iter);
        layer.bwd_dbias = out_format(layer.p.bwd_pd.diff_bias_desc(), layer.dbias);
        layer.diff_src_iter = zeros(state, engine_);
        if (c.cell == Cell::lstm) layer.diff_src_iter_c = zeros(state, engine_);
        diff_io_.push_back(zeros(layer.p.bwd_pd.diff_dst_layer_desc(), engine_));
      }
      layers_.push_back(layer);
    }
    head_w_.resize(kClasses * C);
    head_b_.resize(kClasses);
    uniform(head_w_.data(), head_w_.size(), 1.0 / std::sqrt(double(C)));  // PyTorch's Linear initialisation
    uniform(head_b_.data(), head_b_.size(), 1.0 / std::sqrt(double(C)));
    head_dw_.assign(head_w_.size(), 0);
    head_db_.assign(kClasses, 0);
    logits_.resize(T * N * kClasses);
    std::uniform_int_distribution<int64_t> label(0, kClasses - 1);
    labels_.resize(T * N);
    for (auto& y : labels_) y = label(gen);
    if (!training) run(pre_fwd_);  // inference: the weights never change, pack them once
  }

  // Sets every gradient to zero (oneDNN's RNN backward accumulates into its diff weights).
  void zero_grad() {
    for (Layer& layer : layers_)
      for (const memory* m :
           {&layer.dw_layer, &layer.dw_iter, &layer.dbias, &layer.bwd_dw_layer, &layer.bwd_dw_iter, &layer.bwd_dbias})
        std::memset(m->get_data_handle(), 0, m->get_desc().get_size());
    std::fill(head_dw_.begin(), head_dw_.end(), 0.0f);
    std::fill(head_db_.begin(), head_db_.end(), 0.0f);
  }

  // Training: the RNN forward, the head, the mean cross-entropy, and the backward of the head and the loss
  // (the head's gradients and d loss / d output in diff_io_[L]). Returns the loss.
  double forward_loss() {
    run(pre_fwd_);
    forward_layers();
    head_forward();
    const int64_t R = c_.tokens(), C = c_.features();
    std::vector<float>& dlogits = logits_;  // overwritten in place by (softmax - one_hot) / R
    double loss = 0;
    for (int64_t r = 0; r < R; ++r) {
      float* z = &dlogits[r * kClasses];
      const float top = *std::max_element(z, z + kClasses);
      double sum = 0;
      for (int64_t k = 0; k < kClasses; ++k) sum += std::exp(double(z[k] - top));
      loss += std::log(sum) + top - z[labels_[r]];
      for (int64_t k = 0; k < kClasses; ++k) z[k] = static_cast<float>(std::exp(double(z[k] - top)) / sum / R);
      z[labels_[r]] -= 1.0f / R;
    }
    const float* out = data(io_.back());
    sgemm('T', 'N', kClasses, C, R, dlogits.data(), kClasses, out, C, 1.0f, head_dw_.data(), C);  // dW += dz^T out
    for (int64_t r = 0; r < R; ++r)
      for (int64_t k = 0; k < kClasses; ++k) head_db_[k] += dlogits[r * kClasses + k];
    sgemm('N', 'N', R, C, kClasses, dlogits.data(), kClasses, head_w_.data(), C, 0.0f, data(diff_io_.back()), C);
    return loss / R;
  }

  // Training: the backward of every layer, last to first; the weight gradients end in the plain layouts.
  void backward() {
    run(pre_bwd_);
    for (int64_t l = c_.layers - 1; l >= 0; --l) {
      Layer& layer = layers_[l];
      std::unordered_map<int, memory> args = {{DNNL_ARG_SRC_LAYER, io_[l]},
                                              {DNNL_ARG_SRC_ITER, layer.src_iter},
                                              {DNNL_ARG_WEIGHTS_LAYER, layer.bwd_w_layer},
                                              {DNNL_ARG_WEIGHTS_ITER, layer.bwd_w_iter},
                                              {DNNL_ARG_BIAS, layer.bias},
                                              {DNNL_ARG_DST_LAYER, io_[l + 1]},
                                              {DNNL_ARG_WORKSPACE, layer.workspace},
                                              {DNNL_ARG_DIFF_SRC_LAYER, diff_io_[l]},
                                              {DNNL_ARG_DIFF_SRC_ITER, layer.diff_src_iter},
                                              {DNNL_ARG_DIFF_WEIGHTS_LAYER, layer.bwd_dw_layer},
                                              {DNNL_ARG_DIFF_WEIGHTS_ITER, layer.bwd_dw_iter},
                                              {DNNL_ARG_DIFF_BIAS, layer.bwd_dbias},
                                              {DNNL_ARG_DIFF_DST_LAYER, diff_io_[l + 1]}};
      if (c_.cell == Cell::lstm) {
        args[DNNL_ARG_SRC_ITER_C] = layer.src_iter_c;
        args[DNNL_ARG_DIFF_SRC_ITER_C] = layer.diff_src_iter_c;
      }
      layer.p.bwd.execute(stream_, args);
    }
    run(post_bwd_);
    stream_.wait();
  }

  // clip_grad_norm: scales every gradient by max_norm / (norm + 1e-6) when that is below 1. Returns the norm.
  double clip(double max_norm) {
    double sum = 0;
    for (const Parameter& p : parameters())
      for (size_t i = 0; i < p.size; ++i) sum += double(p.grad[i]) * p.grad[i];
    const double norm = std::sqrt(sum), coef = max_norm / (norm + 1e-6);
    if (coef < 1)
      for (const Parameter& p : parameters())
        for (size_t i = 0; i < p.size; ++i) p.grad[i] *= static_cast<float>(coef);
    return norm;
  }

  void sgd(float lr) {
    for (const Parameter& p : parameters())
      for (size_t i = 0; i < p.size; ++i) p.value[i] -= lr * p.grad[i];
  }

  void train_step() {
    zero_grad();
    forward_loss();
    backward();
    clip(5);
    sgd(0.01f);
  }

  // Inference: the RNN forward and the head's logits.
  void inference_step() {
    forward_layers();
    head_forward();
  }

  // Every parameter in a fixed order: per layer weights_layer, weights_iter, bias; then the head's W and b.
  std::vector<Parameter> parameters() {
    std::vector<Parameter> ps;
    for (size_t l = 0; l < layers_.size(); ++l) {
      Layer& layer = layers_[l];
      const std::string prefix = "layer " + std::to_string(l) + " ";
      for (auto [name, value, grad] :
           {std::tuple{"weights_layer", &layer.w_layer, &layer.dw_layer},
            std::tuple{"weights_iter", &layer.w_iter, &layer.dw_iter}, std::tuple{"bias", &layer.bias, &layer.dbias}})
        ps.push_back({prefix + name, data(*value), training_ ? data(*grad) : nullptr,
                      value->get_desc().get_size() / sizeof(float)});
    }
    ps.push_back({"head weight", head_w_.data(), head_dw_.data(), head_w_.size()});
    ps.push_back({"head bias", head_b_.data(), head_db_.data(), head_b_.size()});
    return ps;
  }

  const float* input() const { return data(io_.front()); }
  const float* output() const { return data(io_.back()); }  // [T, N, features]
  const std::vector<int64_t>& labels() const { return labels_; }

 private:
  struct Layer {
    LayerPrimitives p;
    memory w_layer, w_iter, bias;                 // the parameters: ldigo, ldigo, ldgo
    memory dw_layer, dw_iter, dbias;              // their gradients, same layouts
    memory fwd_w_layer, fwd_w_iter;               // the weights as the forward primitive wants them
    memory bwd_w_layer, bwd_w_iter;               // ... as the backward primitive wants them
    memory bwd_dw_layer, bwd_dw_iter, bwd_dbias;  // the gradients as the backward primitive writes them
    memory src_iter, src_iter_c;                  // zero initial states [1, D, N, H]
    memory diff_src_iter, diff_src_iter_c;        // their gradients (computed, unused)
    memory workspace;                             // training: saved by the forward for the backward
  };

  // `user` if `want` is its format, else a new memory in `want` plus a reorder user -> it added to `list`.
  memory in_format(const memory& user, const memory::desc& want, std::vector<Reorder>& list) {
    if (user.get_desc() == want) return user;
    memory m(want, engine_);
    list.push_back({dnnl::reorder(user, m), user, m});
    return m;
  }

  // `user` if `have` is its format, else a new memory in `have` plus a reorder it -> user run after backward.
  memory out_format(const memory::desc& have, const memory& user) {
    if (user.get_desc() == have) return user;
    memory m(have, engine_);
    post_bwd_.push_back({dnnl::reorder(m, user), m, user});
    return m;
  }

  void run(std::vector<Reorder>& list) {
    for (Reorder& r : list) r.op.execute(stream_, r.from, r.to);
    stream_.wait();
  }

  void forward_layers() {
    for (int64_t l = 0; l < c_.layers; ++l) {
      Layer& layer = layers_[l];
      std::unordered_map<int, memory> args = {{DNNL_ARG_SRC_LAYER, io_[l]},
                                              {DNNL_ARG_SRC_ITER, layer.src_iter},
                                              {DNNL_ARG_WEIGHTS_LAYER, layer.fwd_w_layer},
                                              {DNNL_ARG_WEIGHTS_ITER, layer.fwd_w_iter},
                                              {DNNL_ARG_BIAS, layer.bias},
                                              {DNNL_ARG_DST_LAYER, io_[l + 1]}};
      if (c_.cell == Cell::lstm) args[DNNL_ARG_SRC_ITER_C] = layer.src_iter_c;
      if (training_) args[DNNL_ARG_WORKSPACE] = layer.workspace;
      layer.p.fwd.execute(stream_, args);
    }
    stream_.wait();
  }

  // logits_ [T*N, 10] = out [T*N, C] W^T + b
  void head_forward() {
    const int64_t R = c_.tokens(), C = c_.features();
    sgemm('N', 'T', R, kClasses, C, output(), C, head_w_.data(), C, 0.0f, logits_.data(), kClasses);
    for (int64_t r = 0; r < R; ++r)
      for (int64_t k = 0; k < kClasses; ++k) logits_[r * kClasses + k] += head_b_[k];
  }

  Config c_;
  bool training_;
  dnnl::engine engine_;
  dnnl::stream stream_;
  std::vector<Layer> layers_;
  std::vector<memory> io_, diff_io_;
  std::vector<Reorder> pre_fwd_, pre_bwd_, post_bwd_;
  std::vector<float> head_w_, head_b_, head_dw_, head_db_, logits_;
  std::vector<int64_t> labels_;
};

// ---- --check: a double-precision loop of the same model ----

double sigmoid(double v) { return 1 / (1 + std::exp(-v)); }

// The loss of the model in double, from parameters in Model::parameters() order and layouts; the last layer's
// output [T, N, features] into *out when given.
double reference_loss(const Config& c, const std::vector<std::vector<double>>& P, const float* x,
                      const std::vector<int64_t>& labels, std::vector<double>* out = nullptr) {
  const int64_t T = c.seq, N = c.batch, H = c.hidden, D = c.directions(), G = c.gates(), Gb = c.bias_gates();
  std::vector<double> in(x, x + T * N * c.input);
  for (int64_t l = 0; l < c.layers; ++l) {
    const int64_t I = c.layer_input(l);
    const std::vector<double>&wl = P[3 * l], &wi = P[3 * l + 1], &b = P[3 * l + 2];
    std::vector<double> next(T * N * D * H);
    for (int64_t d = 0; d < D; ++d) {
      std::vector<double> h(N * H, 0.0), cell(N * H, 0.0), h_new(N * H), cell_new(N * H);
      for (int64_t s = 0; s < T; ++s) {
        const int64_t t = d == 0 ? s : T - 1 - s;
        for (int64_t n = 0; n < N; ++n) {
          std::vector<double> ax(G * H), ah(G * H);  // [gate][o]: W x + b, and U h
          for (int64_t g = 0; g < G; ++g)
            for (int64_t o = 0; o < H; ++o) {
              double sx = b[(d * Gb + g) * H + o], sh = 0;
              for (int64_t i = 0; i < I; ++i) sx += in[(t * N + n) * I + i] * wl[((d * I + i) * G + g) * H + o];
              for (int64_t j = 0; j < H; ++j) sh += h[n * H + j] * wi[((d * H + j) * G + g) * H + o];
              ax[g * H + o] = sx;
              ah[g * H + o] = sh;
            }
          for (int64_t o = 0; o < H; ++o) {
            const int64_t k = n * H + o;
            auto a = [&](int64_t g) { return ax[g * H + o] + ah[g * H + o]; };
            if (c.cell == Cell::rnn) {
              h_new[k] = std::tanh(a(0));
            } else if (c.cell == Cell::lstm) {  // gates i, f, c~, o
              cell_new[k] = sigmoid(a(1)) * cell[k] + sigmoid(a(0)) * std::tanh(a(2));
              h_new[k] = sigmoid(a(3)) * std::tanh(cell_new[k]);
            } else {  // lbr_gru, gates u, r, o: o = tanh(W_o x + b_o + r * (U_o h + b'))
              const double u = sigmoid(a(0)), r = sigmoid(a(1));
              const double cand = std::tanh(ax[2 * H + o] + r * (ah[2 * H + o] + b[(d * Gb + 3) * H + o]));
              h_new[k] = u * h[k] + (1 - u) * cand;
            }
            next[(t * N + n) * D * H + d * H + o] = h_new[k];
          }
        }
        h.swap(h_new);
        cell.swap(cell_new);
      }
    }
    in.swap(next);
  }
  const int64_t R = T * N, C = c.features();
  const std::vector<double>&w = P[3 * c.layers], &hb = P[3 * c.layers + 1];
  double loss = 0;
  for (int64_t r = 0; r < R; ++r) {
    double z[kClasses], top = -INFINITY, sum = 0;
    for (int64_t k = 0; k < kClasses; ++k) {
      z[k] = hb[k];
      for (int64_t f = 0; f < C; ++f) z[k] += in[r * C + f] * w[k * C + f];
      top = std::max(top, z[k]);
    }
    for (int64_t k = 0; k < kClasses; ++k) sum += std::exp(z[k] - top);
    loss += std::log(sum) + top - z[labels[r]];
  }
  if (out) *out = in;
  return loss / R;
}

// max |a - ref| / max |ref|
double relative_error(const float* a, const std::vector<double>& ref) {
  double err = 0, scale = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    err = std::max(err, std::abs(a[i] - ref[i]));
    scale = std::max(scale, std::abs(ref[i]));
  }
  return err / std::max(scale, 1e-30);
}

int run_check() {
  constexpr double kTolerance = 1e-5, kLr = 0.01, kStep = 1e-6;
  double worst = 0;
  std::printf("%-14s %9s %9s %9s %9s %9s %9s  %s\n", "config", "output", "inference", "loss", "grads", "clipped",
              "update", "worst gradient");
  for (Cell cell : {Cell::rnn, Cell::lstm, Cell::gru})
    for (int64_t layers : {1, 2})
      for (bool bidirectional : {false, true}) {
        const Config c{cell, layers, 3, 4, 5, 6, bidirectional};
        Model model(c, true, 7);
        std::vector<std::vector<double>> P;
        for (const Parameter& p : model.parameters()) P.emplace_back(p.value, p.value + p.size);
        model.zero_grad();
        const double loss = model.forward_loss();
        model.backward();
        std::vector<double> ref_out;
        const double ref_loss = reference_loss(c, P, model.input(), model.labels(), &ref_out);
        // d loss / d p by central differences of the double loss; the gradient norm and clip coefficient.
        std::vector<std::vector<double>> ref_grad;
        double sum = 0;
        for (std::vector<double>& p : P) {
          ref_grad.emplace_back(p.size());
          for (size_t i = 0; i < p.size(); ++i) {
            const double v = p[i];
            p[i] = v + kStep;
            const double up = reference_loss(c, P, model.input(), model.labels());
            p[i] = v - kStep;
            const double down = reference_loss(c, P, model.input(), model.labels());
            p[i] = v;
            ref_grad.back()[i] = (up - down) / (2 * kStep);
            sum += ref_grad.back()[i] * ref_grad.back()[i];
          }
        }
        const double max_norm = 0.5 * std::sqrt(sum);  // so that the clip scales
        const double coef = max_norm / (std::sqrt(sum) + 1e-6);
        std::vector<Parameter> ps = model.parameters();
        double grads = 0, clipped = 0, update = 0;
        std::string worst_grad;
        for (size_t j = 0; j < ps.size(); ++j) {
          const double e = relative_error(ps[j].grad, ref_grad[j]);
          if (e >= grads) worst_grad = ps[j].name;
          grads = std::max(grads, e);
        }
        model.clip(max_norm);
        model.sgd(kLr);
        for (size_t j = 0; j < ps.size(); ++j) {
          std::vector<double> g = ref_grad[j], updated = P[j];
          for (size_t i = 0; i < g.size(); ++i) {
            g[i] *= coef;
            updated[i] -= kLr * g[i];
          }
          clipped = std::max(clipped, relative_error(ps[j].grad, g));
          update = std::max(update, relative_error(ps[j].value, updated));
        }
        // The inference primitives (forward_inference, weights packed once) on the same initial parameters.
        Model inference(c, false, 7);
        inference.inference_step();
        const double output = relative_error(model.output(), ref_out);
        const double inference_output = relative_error(inference.output(), ref_out);
        const double loss_error = std::abs(loss - ref_loss) / std::abs(ref_loss);
        char name[32];
        std::snprintf(name, sizeof name, "%s %ldL %s", cell_name(cell), (long)layers, bidirectional ? "bi" : "uni");
        std::printf("%-14s %9.2e %9.2e %9.2e %9.2e %9.2e %9.2e  %s\n", name, output, inference_output, loss_error,
                    grads, clipped, update, worst_grad.c_str());
        worst = std::max({worst, output, inference_output, loss_error, grads, clipped, update});
      }
  std::printf("max relative error %.2e (tolerance %.0e): %s\n", worst, kTolerance,
              worst <= kTolerance ? "ok" : "FAILED");
  return worst <= kTolerance ? 0 : 1;
}

// The instruction set oneDNN's JIT code uses on this machine.
const char* isa_name(dnnl::cpu_isa isa) {
  using dnnl::cpu_isa;
  switch (isa) {
    case cpu_isa::avx512_core_amx:
      return "AVX-512 with AMX";
    case cpu_isa::avx512_core_bf16:
      return "AVX-512 with bfloat16";
    case cpu_isa::avx512_core_vnni:
      return "AVX-512 with VNNI";
    case cpu_isa::avx512_core:
      return "AVX-512";
    case cpu_isa::avx2_vnni:
      return "AVX2 with VNNI";
    case cpu_isa::avx2:
      return "AVX2";
    case cpu_isa::avx:
      return "AVX";
    case cpu_isa::sse41:
      return "SSE4.1";
    default:
      return "other";
  }
}

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: onednn_rnn_bench CELL(rnn|lstm|gru) LAYERS BATCH SEQ INPUT HIDDEN BIDIR(0|1) [--no-grad] "
               "[--seconds S] [--threads T]\n"
               "       onednn_rnn_bench --check\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  omp_set_num_threads(1);
  if (argc == 2 && std::strcmp(argv[1], "--check") == 0) return run_check();
  if (argc < 8) usage();
  Config c;
  const std::string cell = argv[1];
  if (cell == "lstm")
    c.cell = Cell::lstm;
  else if (cell == "gru")
    c.cell = Cell::gru;
  else if (cell == "rnn")
    c.cell = Cell::rnn;
  else
    usage();
  c.layers = std::atoll(argv[2]);
  c.batch = std::atoll(argv[3]);
  c.seq = std::atoll(argv[4]);
  c.input = std::atoll(argv[5]);
  c.hidden = std::atoll(argv[6]);
  c.bidirectional = std::strcmp(argv[7], "1") == 0;
  if (c.layers < 1 || c.batch < 1 || c.seq < 1 || c.input < 1 || c.hidden < 1) usage();
  bool no_grad = false;
  double seconds = 3.0;
  for (int i = 8; i < argc; ++i) {
    if (std::strcmp(argv[i], "--no-grad") == 0)
      no_grad = true;
    else if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
      seconds = std::atof(argv[++i]);
    else if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
      omp_set_num_threads(std::max(1, std::atoi(argv[++i])));
    else
      usage();
  }
  Model model(c, !no_grad, 0);
  auto step = [&] { no_grad ? model.inference_step() : model.train_step(); };

  const dnnl::version_t* v = dnnl::version();
  std::printf("# oneDNN %d.%d.%d, %s, %d thread(s)\n", v->major, v->minor, v->patch,
              isa_name(dnnl::get_effective_cpu_isa()), omp_get_max_threads());
  for (int i = 0; i < 3; ++i) step();
  int reps = 0;
  const auto start = std::chrono::steady_clock::now();
  double elapsed = 0;
  while (elapsed < seconds || reps < 5) {
    step();
    ++reps;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  const double per_step = elapsed / reps;
  std::printf("tokens_per_s=%.0f ms_per_step=%.2f\n", double(c.tokens()) / per_step, per_step * 1e3);
  return 0;
}
