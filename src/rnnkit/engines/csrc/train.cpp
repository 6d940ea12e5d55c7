// rnnkit C++ training step: forward, loss, backpropagation through time, gradient clipping
// and the optimizer update of a small Sequential model in one C++ call.
//
// For the tutorials' tiny models (the sunspots recipe: SimpleRNN(3) + Dense(1), batch 1)
// the arithmetic of a step is a few hundred multiply-adds, while PyTorch's autograd,
// module calls and optimizer cost about a millisecond of framework work.  Here nothing is
// dispatched: the products are plain loops (no GEMM call: below a few dozen units a BLAS
// call costs more than the product), and the backward pass is the hand-derived BPTT of
// rnnkit/reference.  Every cell's per-element math is gates.h's, shared with the fused
// engine's kernels.  Python side and the rules for when this runs: rnnkit/training/cpp_step.py.
//
// The parts, in the order a step runs them:
//   forward   forward_recurrent, forward_dense      (cells: gates.h)
//   loss      loss_and_grad: the mean loss and its gradient with respect to the prediction
//   BPTT      backward_dense, bptt_recurrent
//   threads   over_batch: samples are independent until the gradients are summed
//   clipping  clip_gradients: by value, then by global norm
//   update    sgd_update, adam_update
// What crosses from Python (records and codes generated from rnnkit/engines/codes.py):
//   x       (B, T, D) inputs
//   y       (B, O) targets, or (B, 1) class indices as floats for sparse cross-entropy;
//           (B,) where that is one value a sample
//   spec    LayerSpec per layer (kind, inputs, units, activation, bias): SimpleRNN, LSTM
//           and GRU(reset_after=True) layers first, all but the last returning sequences and
//           the last its final h; Dense layers follow.
//   params  in layer order: RNN w_ih (G, D), w_hh (G, H), [bias (G) | bias_ih, bias_hh];
//           Dense weight (U, D), [bias (U)].  Every tensor contiguous, one floating dtype.
//   grads   one tensor per parameter (its p.grad), overwritten with the clipped gradient.
//   exp_avg, exp_avg_sq, steps   torch.optim.Adam's state per parameter (empty for SGD).
//   config  StepConfig: lr, Adam's betas and eps, weight decay, clipping, optimizer, loss
//           (a LOSS_* code), grads_only.
#include <torch/extension.h>
#include <algorithm>
#include <cmath>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace {

using gates::act;
using gates::act_grad;

// ---------------------------------------------------------------- small products
// The recurrent layers keep transposed weights, Wt (C, G), so that every inner loop below
// runs along the G gate rows (4H for an LSTM): contiguous, and long enough to vectorise.
// y[g] += sum_c v[c] Wt[c, g]
template <typename T> inline void vmt(const T* Wt, const T* v, T* y, int64_t C, int64_t G) {
  for (int64_t c = 0; c < C; ++c) {
    const T vc = v[c];
    const T* w = Wt + c * G;
    for (int64_t g = 0; g < G; ++g) y[g] += vc * w[g];
  }
}
// out[c] += sum_g Wt[c, g] u[g]   (W^T u for W (G, C))
template <typename T> inline void wtu(const T* Wt, const T* u, T* out, int64_t C, int64_t G) {
  for (int64_t c = 0; c < C; ++c) {
    const T* w = Wt + c * G;
    T s = 0;
    for (int64_t g = 0; g < G; ++g) s += w[g] * u[g];
    out[c] += s;
  }
}
template <typename T> inline void transpose(const T* A, T* At, int64_t R, int64_t C) {
  for (int64_t r = 0; r < R; ++r)
    for (int64_t c = 0; c < C; ++c) At[c * R + r] = A[r * C + c];
}
// y[r] += sum_c W[r, c] v[c]
template <typename T> inline void mv(const T* W, const T* v, T* y, int64_t R, int64_t C) {
  for (int64_t r = 0; r < R; ++r) {
    const T* w = W + r * C;
    T s = 0;
    for (int64_t c = 0; c < C; ++c) s += w[c] * v[c];
    y[r] += s;
  }
}
// out[c] += sum_r W[r, c] u[r]
template <typename T> inline void mtv(const T* W, const T* u, T* out, int64_t R, int64_t C) {
  for (int64_t r = 0; r < R; ++r) {
    const T ur = u[r];
    const T* w = W + r * C;
    for (int64_t c = 0; c < C; ++c) out[c] += w[c] * ur;
  }
}
// G[r, c] += u[r] v[c]
template <typename T> inline void outer(T* G, const T* u, const T* v, int64_t R, int64_t C) {
  for (int64_t r = 0; r < R; ++r) {
    const T ur = u[r];
    T* g = G + r * C;
    for (int64_t c = 0; c < C; ++c) g[c] += ur * v[c];
  }
}

// ---------------------------------------------------------------- the model and its buffers
// A layer as the spec gives it, and the index of its first parameter in params.
struct Layer : LayerSpec {
  int p;
  Layer(const LayerSpec& spec, int first) : LayerSpec(spec), p(first) {}
  bool recurrent() const { return kind != KIND_DENSE; }
  int64_t gates() const {
    return kind == KIND_LSTM ? 4 * units : kind == KIND_GRU ? 3 * units : units;
  }
  int n_params() const {
    return recurrent() ? 2 + (bias ? (kind == KIND_GRU ? 2 : 1) : 0) : 1 + bias;
  }
};

// One recurrent layer's buffers, (T, B, ...) with one row per sample.
template <typename T> struct RecurrentBuffers {
  std::vector<T> WiT, WhT;   // w_ih, w_hh transposed: (In, G), (H, G)
  std::vector<T> h;          // (T+1, B, H) states; row 0 is the zero initial state
  std::vector<T> gate;       // (T, B, G) the gates; for a SimpleRNN the pre-activations
  std::vector<T> c;          // LSTM: (T+1, B, H) cell states
  std::vector<T> hn;         // GRU: (T, B, H) W_hn h + b_hn, which r multiplies
  std::vector<T> dx;         // layers above the first: (T, B, In) gradient of the input
};
template <typename T> struct DenseBuffers {
  std::vector<T> pre, out;   // (B, U) pre-activations and outputs
};

// One call: its sizes, parameters and buffers.  Threads own disjoint ranges of samples
// (rows b0..b1 of every buffer), so they share this without locks.
template <typename T> struct Workspace {
  const std::vector<Layer>& L;
  int nr = 0, nd = 0;                        // recurrent layers, then Dense layers
  int64_t B, T_, D, O;                       // O: the prediction's width
  std::vector<const T*> P;                   // the parameters
  std::vector<int64_t> off;                  // each parameter's offset in a flat gradient
  std::vector<T> x;                          // the input as (T, B, D)
  std::vector<RecurrentBuffers<T>> rnn;
  std::vector<DenseBuffers<T>> dense;

  Workspace(const at::Tensor& input, const std::vector<Layer>& layers,
            const std::vector<at::Tensor>& params)
      : L(layers), B(input.size(0)), T_(input.size(1)), D(input.size(2)),
        O(layers.back().units), P(params.size()), off(params.size() + 1, 0),
        x(T_ * B * D) {
    for (size_t k = 0; k < params.size(); ++k) {
      P[k] = params[k].data_ptr<T>();
      off[k + 1] = off[k] + params[k].numel();
    }
    while (nr < int(L.size()) && L[nr].recurrent()) ++nr;
    nd = int(L.size()) - nr;
    const T* xp = input.data_ptr<T>();
    for (int64_t b = 0; b < B; ++b)                              // (B, T, D) -> (T, B, D)
      for (int64_t t = 0; t < T_; ++t)
        for (int64_t k = 0; k < D; ++k) x[(t * B + b) * D + k] = xp[(b * T_ + t) * D + k];
    rnn.resize(nr);
    for (int l = 0; l < nr; ++l) {
      const Layer& ly = L[l];
      const int64_t H = ly.units, In = ly.inputs, G = ly.gates();
      RecurrentBuffers<T>& r = rnn[l];
      r.WiT.resize(In * G);
      r.WhT.resize(H * G);
      transpose(P[ly.p], r.WiT.data(), G, In);
      transpose(P[ly.p + 1], r.WhT.data(), G, H);
      r.h.assign((T_ + 1) * B * H, T(0));
      r.gate.assign(T_ * B * G, T(0));
      if (ly.kind == KIND_LSTM) r.c.assign((T_ + 1) * B * H, T(0));
      if (ly.kind == KIND_GRU) r.hn.assign(T_ * B * H, T(0));
      if (l > 0) r.dx.assign(T_ * B * In, T(0));
    }
    dense.resize(nd);
    for (int d = 0; d < nd; ++d) {
      dense[d].pre.assign(B * L[nr + d].units, T(0));
      dense[d].out.assign(B * L[nr + d].units, T(0));
    }
  }
  const T* input(int l) const { return l == 0 ? x.data() : rnn[l - 1].h.data() + B * L[l].inputs; }
  const T* final_h() const { return rnn[nr - 1].h.data() + T_ * B * L[nr - 1].units; }
  const T* dense_input(int d) const { return d == 0 ? final_h() : dense[d - 1].out.data(); }
  const T* y_hat() const { return nd ? dense[nd - 1].out.data() : final_h(); }
  int64_t work() const {                     // multiply-adds of the recurrent forward
    int64_t n = 0;
    for (int l = 0; l < nr; ++l) n += B * T_ * L[l].gates() * (L[l].inputs + L[l].units);
    return n;
  }
};

// ---------------------------------------------------------------- forward
// One sample at one step: pre holds W_ih x + b (+ W_hh h + b_hh but for the GRU, whose
// recurrent side rec = W_hh h + b_hh comes apart because r multiplies its n part).
// Every per-step cell function is always_inline: GCC left lstm_forward and gru_forward out
// of the time loop, measured 2-4% slower at H = 64.
// SimpleRNN: h' = act(pre); pre is kept, as the backward needs it.
template <typename T> [[gnu::always_inline]] inline void simple_forward(int code, const T* pre,
                                                                      T* h_new, int64_t H) {
  for (int64_t j = 0; j < H; ++j) h_new[j] = act(code, pre[j]);
}
// LSTM: pre (4H) becomes the gates i, f, g, o in place; c' = f c + i g, h' = o tanh(c').
template <typename T> [[gnu::always_inline]] inline void lstm_forward(T* pre, const T* c, T* c_new,
                                                                    T* h_new, int64_t H) {
  _Pragma("omp simd")
  for (int64_t j = 0; j < H; ++j) {
    T i = pre[j], f = pre[H + j], g = pre[2 * H + j], o = pre[3 * H + j];
    gates::lstm_gates(i, f, g, o);
    pre[j] = i; pre[H + j] = f; pre[2 * H + j] = g; pre[3 * H + j] = o;
    c_new[j] = gates::lstm_cell(i, f, g, c[j]);
    h_new[j] = gates::lstm_hidden(o, c_new[j]);
  }
}
// GRU: pre (3H, input side) becomes the gates r, z, n in place; hn keeps rec's n part.
template <typename T> [[gnu::always_inline]] inline void gru_forward(T* pre, const T* rec,
                                                                   const T* h, T* hn, T* h_new,
                                                                   int64_t H) {
  _Pragma("omp simd")
  for (int64_t j = 0; j < H; ++j) {
    T r, z, n;
    h_new[j] = gates::gru_step(pre[j], pre[H + j], pre[2 * H + j], rec[j], rec[H + j],
                               rec[2 * H + j], h[j], r, z, n);
    hn[j] = rec[2 * H + j];
    pre[j] = r; pre[H + j] = z; pre[2 * H + j] = n;
  }
}

// Recurrent layer l over every step, samples b0..b1.
template <typename T> void forward_recurrent(Workspace<T>& w, int l, int64_t b0, int64_t b1) {
  const Layer& ly = w.L[l];
  RecurrentBuffers<T>& r = w.rnn[l];
  const int64_t B = w.B, H = ly.units, In = ly.inputs, G = ly.gates();
  const T* in = w.input(l);
  const T* bi = ly.bias ? w.P[ly.p + 2] : nullptr;
  const T* bh = (ly.bias && ly.kind == KIND_GRU) ? w.P[ly.p + 3] : nullptr;
  std::vector<T> rec(ly.kind == KIND_GRU ? G : 0);
  for (int64_t t = 0; t < w.T_; ++t) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t row = t * B + b;
      const T* h = r.h.data() + row * H;
      T* h_new = r.h.data() + (row + B) * H;
      T* pre = r.gate.data() + row * G;
      for (int64_t j = 0; j < G; ++j) pre[j] = bi ? bi[j] : T(0);
      vmt(r.WiT.data(), in + row * In, pre, In, G);
      if (ly.kind == KIND_GRU) {
        for (int64_t j = 0; j < G; ++j) rec[j] = bh ? bh[j] : T(0);
        vmt(r.WhT.data(), h, rec.data(), H, G);
        gru_forward(pre, rec.data(), h, r.hn.data() + row * H, h_new, H);
        continue;
      }
      vmt(r.WhT.data(), h, pre, H, G);
      if (ly.kind == KIND_SIMPLE)
        simple_forward(ly.activation, pre, h_new, H);
      else
        lstm_forward(pre, r.c.data() + row * H, r.c.data() + (row + B) * H, h_new, H);
    }
  }
}

// out = act(W v + b) over the row (softmax: exp(a - max) / sum, stable), samples b0..b1.
template <typename T> void forward_dense(Workspace<T>& w, int d, int64_t b0, int64_t b1) {
  const Layer& ly = w.L[w.nr + d];
  const int64_t U = ly.units;
  const T* in = w.dense_input(d);
  for (int64_t b = b0; b < b1; ++b) {
    T* a = w.dense[d].pre.data() + b * U;
    for (int64_t j = 0; j < U; ++j) a[j] = ly.bias ? w.P[ly.p + 1][j] : T(0);
    mv(w.P[ly.p], in + b * ly.inputs, a, U, ly.inputs);
    T* o = w.dense[d].out.data() + b * U;
    if (ly.activation == ACT_SOFTMAX) {
      T mx = a[0], sum = 0;
      for (int64_t j = 1; j < U; ++j) mx = std::max(mx, a[j]);
      for (int64_t j = 0; j < U; ++j) sum += (o[j] = std::exp(a[j] - mx));
      for (int64_t j = 0; j < U; ++j) o[j] /= sum;
    } else {
      for (int64_t j = 0; j < U; ++j) o[j] = act(ly.activation, a[j]);
    }
  }
}

// ---------------------------------------------------------------- loss and its gradient
// rnnkit/training/losses.py's losses, as torch computes them: the mean over N values, and
// on probabilities Keras' clamp to [eps, 1 - eps] ([eps, 1] for sparse), through which a
// clamped value passes no gradient.

inline bool per_sample(int loss) { return loss >= LOSS_SCE_LOGITS; }   // one class a sample

// MSE, MAE or binary cross-entropy of prediction p against target t: its term of the sum,
// and dp = d mean / d p.
template <typename T> inline double pointwise_loss(int loss, T p, T t, T N, T& dp) {
  const T eps = T(PROB_EPS);
  if (loss == LOSS_MSE) {
    const T e = p - t;
    dp = 2 * e / N;
    return double(e) * double(e);
  }
  if (loss == LOSS_MAE) {
    const T e = p - t;
    dp = (e > 0 ? T(1) : e < 0 ? T(-1) : T(0)) / N;
    return std::fabs(double(e));
  }
  if (loss == LOSS_BCE_LOGITS) {               // max(p, 0) - p t + log(1 + exp(-|p|))
    dp = (gates::sigmoid(p) - t) / N;
    return double(std::max(p, T(0)) - p * t + std::log1p(std::exp(-std::fabs(p))));
  }
  const T pc = std::min(std::max(p, eps), T(1) - eps);                 // LOSS_BCE_PROBS
  if (p >= eps && p <= T(1) - eps) dp = (pc - t) / (pc * (1 - pc) * N);
  return -double(t * std::log(pc) + (1 - t) * std::log(1 - pc));
}

// Sparse categorical cross-entropy of one sample: scores s (O) and class c; writes ds.
template <typename T> inline double sparse_ce(int loss, const T* s, int64_t c, int64_t O, T N,
                                              T* ds) {
  if (loss == LOSS_SCE_LOGITS) {               // logsumexp(s) - s_c; ds = softmax(s) - onehot
    T mx = s[0], sum = 0;
    for (int64_t j = 1; j < O; ++j) mx = std::max(mx, s[j]);
    for (int64_t j = 0; j < O; ++j) sum += std::exp(s[j] - mx);
    const T lse = mx + std::log(sum);
    for (int64_t j = 0; j < O; ++j) ds[j] = std::exp(s[j] - lse) / N;
    ds[c] -= T(1) / N;
    return double(lse - s[c]);
  }
  const T eps = T(PROB_EPS), pc = std::min(std::max(s[c], eps), T(1));   // LOSS_SCE_PROBS
  if (s[c] >= eps && s[c] <= T(1)) ds[c] = -T(1) / (pc * N);
  return -double(std::log(pc));
}

// The loss summed over samples b0..b1 (the caller divides by N), and in g ((b1 - b0, O),
// zeroed here) its mean's gradient with respect to the prediction.
template <typename T> double loss_and_grad(const Workspace<T>& w, const T* y, int loss,
                                           int64_t b0, int64_t b1, std::vector<T>& g) {
  const int64_t O = w.O;
  const T N = T(per_sample(loss) ? w.B : w.B * O);
  const T* p = w.y_hat();
  g.assign((b1 - b0) * O, T(0));
  double sum = 0;
  if (per_sample(loss)) {
    for (int64_t b = b0; b < b1; ++b)
      sum += sparse_ce(loss, p + b * O, static_cast<int64_t>(y[b]), O, N, g.data() + (b - b0) * O);
  } else {
    for (int64_t k = b0 * O; k < b1 * O; ++k)
      sum += pointwise_loss(loss, p[k], y[k], N, g[k - b0 * O]);
  }
  return sum;
}

// ---------------------------------------------------------------- backpropagation
// Dense layer d: g ((b1 - b0, U), the gradient of its output) becomes the gradient of its
// input; the weight gradients are added to tg (this thread's flat gradient).
template <typename T> void backward_dense(const Workspace<T>& w, int d, int64_t b0, int64_t b1,
                                          std::vector<T>& g, T* tg) {
  const Layer& ly = w.L[w.nr + d];
  const int64_t U = ly.units, In = ly.inputs;
  const T* in = w.dense_input(d);
  std::vector<T> gin((b1 - b0) * In, T(0));
  for (int64_t b = b0; b < b1; ++b) {
    T* gb = g.data() + (b - b0) * U;
    const T* o = w.dense[d].out.data() + b * U;
    if (ly.activation == ACT_SOFTMAX) {                 // softmax: d pre = p (g - sum g p)
      T s = 0;
      for (int64_t j = 0; j < U; ++j) s += gb[j] * o[j];
      for (int64_t j = 0; j < U; ++j) gb[j] = o[j] * (gb[j] - s);
    } else {
      const T* pre = w.dense[d].pre.data() + b * U;
      for (int64_t j = 0; j < U; ++j) gb[j] *= act_grad(ly.activation, pre[j], o[j]);
    }
    outer(tg + w.off[ly.p], gb, in + b * In, U, In);     // dW += d pre v^T
    if (ly.bias) for (int64_t j = 0; j < U; ++j) tg[w.off[ly.p + 1] + j] += gb[j];
    mtv(w.P[ly.p], gb, gin.data() + (b - b0) * In, U, In);   // dv = W^T d pre
  }
  g.swap(gin);
}

// One sample at one step, backward: dh (and an LSTM's dc) reach h' (c'); each writes the
// input side's pre-activation gradients dpre and leaves in dh the gradient reaching h other
// than through W_hh (the GRU's z h path; none for the others).
template <typename T> [[gnu::always_inline]] inline void simple_backward(int code, const T* pre,
                                                                       const T* h_new, T* dh,
                                                                       T* dpre, int64_t H) {
  for (int64_t j = 0; j < H; ++j) dpre[j] = dh[j] * act_grad(code, pre[j], h_new[j]);
  std::fill(dh, dh + H, T(0));
}
template <typename T> [[gnu::always_inline]] inline void lstm_backward(const T* gate, const T* c,
                                                                     const T* c_new, T* dh, T* dc,
                                                                     T* dpre, int64_t H) {
  _Pragma("omp simd")
  for (int64_t j = 0; j < H; ++j) {
    dc[j] = gates::lstm_grad(gate[j], gate[H + j], gate[2 * H + j], gate[3 * H + j], c[j],
                             std::tanh(c_new[j]), dh[j], dc[j], dpre[j], dpre[H + j],
                             dpre[2 * H + j], dpre[3 * H + j]);
  }
  std::fill(dh, dh + H, T(0));
}
// The GRU's recurrent side differs in n: its pre-activation is r (W_hn h + b_hn), so
// dpre_rec = dpre for r and z, and dpre_n r for n.
template <typename T> [[gnu::always_inline]] inline void gru_backward(const T* gate, const T* hn,
                                                                    const T* h, T* dh, T* dpre,
                                                                    T* dpre_rec, int64_t H) {
  _Pragma("omp simd")
  for (int64_t j = 0; j < H; ++j) {
    T dpre_r, dpre_z, dpre_n;
    dh[j] = gates::gru_grad(gate[j], gate[H + j], gate[2 * H + j], hn[j], h[j], dh[j], dpre_r,
                            dpre_z, dpre_n);
    dpre[j] = dpre_r; dpre[H + j] = dpre_z; dpre[2 * H + j] = dpre_n;
    dpre_rec[j] = dpre_r; dpre_rec[H + j] = dpre_z; dpre_rec[2 * H + j] = dpre_n * gate[j];
  }
}

// Recurrent layer l backward through time, samples b0..b1.  The top layer starts from
// g_top, the gradient of its final h; the others take the gradient of their whole output
// sequence from the layer above (its dx).  Adds the weight gradients to tg and, above the
// first layer, writes dx.
template <typename T> void bptt_recurrent(Workspace<T>& w, int l, int64_t b0, int64_t b1,
                                          const std::vector<T>& g_top, T* tg) {
  const Layer& ly = w.L[l];
  RecurrentBuffers<T>& r = w.rnn[l];
  const int64_t B = w.B, H = ly.units, In = ly.inputs, G = ly.gates();
  const T* in = w.input(l);
  const T* dy = l + 1 < w.nr ? w.rnn[l + 1].dx.data() : nullptr;
  T* dx = l > 0 ? r.dx.data() : nullptr;
  T* gbi = ly.bias ? tg + w.off[ly.p + 2] : nullptr;
  T* gbh = (ly.bias && ly.kind == KIND_GRU) ? tg + w.off[ly.p + 3] : nullptr;
  std::vector<T> gWiT(In * G, T(0)), gWhT(H * G, T(0));   // transposed accumulators
  std::vector<T> dh((b1 - b0) * H, T(0)), dc((b1 - b0) * H, T(0)), dpre(G), dpre_rec(G);
  if (!dy) std::copy(g_top.begin(), g_top.begin() + (b1 - b0) * H, dh.begin());
  // the recurrent side's pre-activation gradient: the GRU's own, else the same as dpre
  const T* drec = ly.kind == KIND_GRU ? dpre_rec.data() : dpre.data();
  for (int64_t t = w.T_ - 1; t >= 0; --t) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t row = t * B + b;
      T* dhb = dh.data() + (b - b0) * H;
      if (dy) for (int64_t j = 0; j < H; ++j) dhb[j] += dy[row * H + j];
      const T* gate = r.gate.data() + row * G;
      const T* h = r.h.data() + row * H;
      if (ly.kind == KIND_SIMPLE)
        simple_backward(ly.activation, gate, h + B * H, dhb, dpre.data(), H);
      else if (ly.kind == KIND_LSTM)
        lstm_backward(gate, r.c.data() + row * H, r.c.data() + (row + B) * H, dhb,
                      dc.data() + (b - b0) * H, dpre.data(), H);
      else
        gru_backward(gate, r.hn.data() + row * H, h, dhb, dpre.data(), dpre_rec.data(), H);
      outer(gWiT.data(), in + row * In, dpre.data(), In, G);   // dW_ih += dpre x^T
      outer(gWhT.data(), h, drec, H, G);                        // dW_hh += drec h^T
      if (gbi) for (int64_t j = 0; j < G; ++j) gbi[j] += dpre[j];
      if (gbh) for (int64_t j = 0; j < G; ++j) gbh[j] += dpre_rec[j];
      if (dx) wtu(r.WiT.data(), dpre.data(), dx + row * In, In, G);   // dx = W_ih^T dpre
      wtu(r.WhT.data(), drec, dhb, H, G);                              // dh += W_hh^T drec
    }
  }
  T* gWi = tg + w.off[ly.p];
  T* gWh = tg + w.off[ly.p + 1];
  for (int64_t q = 0; q < G; ++q) {
    for (int64_t c = 0; c < In; ++c) gWi[q * In + c] += gWiT[c * G + q];
    for (int64_t c = 0; c < H; ++c) gWh[q * H + c] += gWhT[c * G + q];
  }
}

// Samples b0..b1: forward, their part of the loss (returned, a sum) and their gradients
// (added to tg).
template <typename T> double sample_gradients(Workspace<T>& w, const T* y, int loss, int64_t b0,
                                              int64_t b1, T* tg) {
  for (int l = 0; l < w.nr; ++l) forward_recurrent(w, l, b0, b1);
  for (int d = 0; d < w.nd; ++d) forward_dense(w, d, b0, b1);
  std::vector<T> g;
  const double part = loss_and_grad(w, y, loss, b0, b1, g);
  for (int d = w.nd - 1; d >= 0; --d) backward_dense(w, d, b0, b1, g, tg);
  for (int l = w.nr - 1; l >= 0; --l) bptt_recurrent(w, l, b0, b1, g, tg);
  return part;
}

// ---------------------------------------------------------------- threads
// body(k, b0, b1) for nt ranges of the batch, range 0 on this thread.  Each thread writes
// its own gradient buffer, summed in thread order afterwards, so a given thread count
// always gives the same sums.  Below PAR_MIN_WORK multiply-adds a step is too short to pay
// for starting a thread.
constexpr int64_t PAR_MIN_WORK = 1 << 18;

template <typename Body> void over_batch(int nt, int64_t B, const Body& body) {
  if (nt == 1) return body(0, 0, B);
  std::vector<std::thread> pool;
  std::exception_ptr failed;
  std::mutex mu;
  for (int k = 1; k < nt; ++k)
    pool.emplace_back([&, k] {
      try {
        body(k, B * k / nt, B * (k + 1) / nt);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        failed = std::current_exception();
      }
    });
  body(0, 0, B / nt);
  for (auto& th : pool) th.join();
  if (failed) std::rethrow_exception(failed);
}

// ---------------------------------------------------------------- clipping and the update
// Adam's moments and step counts, one tensor each per parameter (empty for SGD).
struct AdamState {
  const std::vector<at::Tensor>& exp_avg;
  const std::vector<at::Tensor>& exp_avg_sq;
  const std::vector<at::Tensor>& steps;
};

// Clip G by value, then by global norm (torch's clip_grad_norm_: coef = max_norm / (norm +
// 1e-6), applied when below 1).  Returns the norm before clipping by norm.
template <typename T> double clip_gradients(const std::vector<T*>& G, const std::vector<int64_t>& n,
                                            const StepConfig& cfg) {
  if (cfg.clip_value > 0)
    for (size_t k = 0; k < G.size(); ++k)
      for (int64_t e = 0; e < n[k]; ++e)
        G[k][e] = std::min(std::max(G[k][e], T(-cfg.clip_value)), T(cfg.clip_value));
  double norm = 0;
  for (size_t k = 0; k < G.size(); ++k)
    for (int64_t e = 0; e < n[k]; ++e) norm += double(G[k][e]) * double(G[k][e]);
  norm = std::sqrt(norm);
  if (cfg.clip_norm > 0) {
    const double coef = std::min(1.0, cfg.clip_norm / (norm + 1e-6));
    if (coef < 1.0)
      for (size_t k = 0; k < G.size(); ++k)
        for (int64_t e = 0; e < n[k]; ++e) G[k][e] *= T(coef);
  }
  return norm;
}

// Weight decay joins the gradient inside the update, as torch's optimizers do (p.grad keeps
// the loss gradient).  SGD: p -= lr (g + wd p).
template <typename T> void sgd_update(T* p, const T* g, int64_t n, const StepConfig& cfg) {
  const T lr = T(cfg.lr), wd = T(cfg.weight_decay);
  for (int64_t e = 0; e < n; ++e) p[e] -= lr * (g[e] + wd * p[e]);
}

// Adam as torch.optim.Adam (single-tensor, not capturable): s += 1;
// m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2, p -= lr / (1 - b1^s) m / (sqrt(v) /
// sqrt(1 - b2^s) + eps), with g = grad + wd p.
template <typename T> void adam_update(T* p, const T* grad, T* m, T* v, const at::Tensor& step,
                                       int64_t n, const StepConfig& cfg) {
  double s;
  if (step.scalar_type() == at::kFloat) {        // torch keeps the count as a float tensor
    float* sp = step.data_ptr<float>();
    s = double(*sp += 1.0f);
  } else {
    double* sp = step.data_ptr<double>();
    s = (*sp += 1.0);
  }
  const double b1 = cfg.beta1, b2 = cfg.beta2;
  const double bc1 = 1 - std::pow(b1, s), bc2 = 1 - std::pow(b2, s);
  const T step_size = T(cfg.lr / bc1), bc2s = T(std::sqrt(bc2)), wd = T(cfg.weight_decay);
  for (int64_t e = 0; e < n; ++e) {
    const T g = grad[e] + wd * p[e];
    m[e] = T(b1) * m[e] + T(1 - b1) * g;
    v[e] = T(b2) * v[e] + T(1 - b2) * g * g;
    p[e] -= step_size * m[e] / (std::sqrt(v[e]) / bc2s + T(cfg.eps));
  }
}

// Clip the gradients G, then update params in place; returns the norm before clipping by
// norm.  Shared by the whole step and by the update after a distributed step's all-reduce.
template <typename T>
double clip_and_update(const std::vector<at::Tensor>& params, const std::vector<T*>& G,
                       const std::vector<int64_t>& n, const AdamState& adam,
                       const StepConfig& cfg) {
  const double norm = clip_gradients(G, n, cfg);
  for (size_t k = 0; k < params.size(); ++k) {
    T* p = params[k].data_ptr<T>();
    if (cfg.adam)
      adam_update(p, G[k], adam.exp_avg[k].data_ptr<T>(), adam.exp_avg_sq[k].data_ptr<T>(),
                  adam.steps[k], n[k], cfg);
    else
      sgd_update(p, G[k], n[k], cfg);
  }
  return norm;
}

// ---------------------------------------------------------------- the whole step
template <typename T>
std::tuple<at::Tensor, double, double> step_impl(
    const at::Tensor& x, const at::Tensor& y, const std::vector<Layer>& L,
    const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& grads,
    const AdamState& adam, const StepConfig& cfg, int64_t max_threads) {
  Workspace<T> w(x, L, params);
  const int64_t B = w.B, O = w.O, np = int64_t(params.size());
  int nt = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(max_threads, B)));
  if (w.work() < PAR_MIN_WORK) nt = 1;
  std::vector<std::vector<T>> TG(nt, std::vector<T>(w.off[np], T(0)));   // per thread
  std::vector<double> loss_part(nt, 0.0);
  const T* yt = y.data_ptr<T>();
  over_batch(nt, B, [&](int k, int64_t b0, int64_t b1) {
    loss_part[k] = sample_gradients(w, yt, cfg.loss, b0, b1, TG[k].data());
  });

  double loss = 0;
  for (double part : loss_part) loss += part;
  const double N = double(per_sample(cfg.loss) ? B : B * O);    // the mean's count, as torch's
  loss = double(T(loss / N));          // in the model's dtype: float32 overflows as torch's
  at::Tensor y_hat = at::empty({B, O}, x.options());
  std::copy(w.y_hat(), w.y_hat() + B * O, y_hat.data_ptr<T>());
  if (!std::isfinite(loss)) return {y_hat, loss, 0.0};   // as autograd: p.grad, p untouched

  std::vector<T*> G(np);                 // gradients, left in p.grad as autograd would
  std::vector<int64_t> n(np);
  for (int64_t k = 0; k < np; ++k) {
    G[k] = grads[k].data_ptr<T>();
    n[k] = w.off[k + 1] - w.off[k];
    std::copy(TG[0].data() + w.off[k], TG[0].data() + w.off[k + 1], G[k]);
    for (int th = 1; th < nt; ++th)
      for (int64_t e = 0; e < n[k]; ++e) G[k][e] += TG[th][w.off[k] + e];
  }
  if (cfg.grads_only) return {y_hat, loss, 0.0};          // a distributed step all-reduces
  return {y_hat, loss, clip_and_update<T>(params, G, n, adam, cfg)};
}

// ---------------------------------------------------------------- entry checks
StepConfig config_from(const std::vector<double>& values, const char* fn) {
  TORCH_CHECK(values.size() == StepConfig::size, fn, ": config must hold ", StepConfig::size,
              " values (rnnkit.engines.codes.StepConfig), got ", values.size());
  const StepConfig cfg = StepConfig::unpack(values.data());
  TORCH_CHECK(cfg.loss >= 0 && cfg.loss <= LOSS_MAX, fn, ": unknown loss code ", cfg.loss);
  return cfg;
}

std::vector<Layer> layers_from(const std::vector<int64_t>& spec, const char* fn) {
  TORCH_CHECK(!spec.empty() && spec.size() % LayerSpec::size == 0, fn, ": spec must hold ",
              LayerSpec::size, " values a layer (rnnkit.engines.codes.LayerSpec), got ",
              spec.size());
  std::vector<Layer> L;
  int p = 0;
  for (size_t k = 0; k < spec.size(); k += LayerSpec::size) {
    L.emplace_back(LayerSpec::unpack(spec.data() + k), p);
    const Layer& ly = L.back();
    const size_t i = L.size() - 1;
    TORCH_CHECK(ly.kind >= 0 && ly.kind <= KIND_MAX && ly.inputs > 0 && ly.units > 0 &&
                ly.activation >= 0 && ly.activation <= (ly.recurrent() ? ACT_MAX : ACT_SOFTMAX),
                fn, ": layer ", i, " has invalid codes");
    TORCH_CHECK(i == 0 || !ly.recurrent() || L[i - 1].recurrent(), fn, ": layer ", i,
                " is recurrent after a Dense");
    TORCH_CHECK(i == 0 || ly.inputs == L[i - 1].units, fn, ": layer ", i, " takes ",
                ly.inputs, " inputs but layer ", i - 1, " gives ", L[i - 1].units);
    p += ly.n_params();
  }
  TORCH_CHECK(L[0].recurrent(), fn, ": layer 0 must be recurrent");
  return L;
}

// Parameter j of layer ly: writes its shape to s and returns its rank.
int param_shape(const Layer& ly, int j, int64_t* s) {
  s[0] = ly.recurrent() ? ly.gates() : ly.units;
  if (j >= (ly.recurrent() ? 2 : 1)) return 1;                   // a bias
  s[1] = j == 0 ? ly.inputs : ly.units;                          // w_ih | weight, w_hh
  return 2;
}

void check_adam_state(const AdamState& adam, size_t np, const char* fn) {
  TORCH_CHECK(adam.exp_avg.size() == np && adam.exp_avg_sq.size() == np &&
              adam.steps.size() == np, fn, ": Adam state for ", adam.exp_avg.size(), ", ",
              adam.exp_avg_sq.size(), ", ", adam.steps.size(), " of ", np, " parameters");
  for (const auto& st : adam.steps)
    TORCH_CHECK(st.numel() == 1 && st.device().is_cpu() && (st.scalar_type() == at::kFloat ||
                st.scalar_type() == at::kDouble), fn, ": Adam step must be one float number");
}

// Parameter k, its gradient (and Adam's moments): exactly `shape`, dtype dt, on the CPU.
void check_param(const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& grads,
                 const AdamState& adam, bool with_adam, size_t k, at::IntArrayRef shape,
                 at::ScalarType dt, const char* fn) {
  rk::expect(params[k], fn, "a parameter", dt, shape);
  rk::expect(grads[k], fn, "a gradient", dt, shape);
  if (with_adam) {
    rk::expect(adam.exp_avg[k], fn, "Adam's exp_avg", dt, shape);
    rk::expect(adam.exp_avg_sq[k], fn, "Adam's exp_avg_sq", dt, shape);
  }
}

// After the C++ wrote into them: autograd's version counters see the change.
void bump_versions(std::vector<at::Tensor>& params, std::vector<at::Tensor>& grads) {
  for (auto& t : params) t.unsafeGetTensorImpl()->bump_version();
  for (auto& t : grads) t.unsafeGetTensorImpl()->bump_version();
}

}  // namespace

// One optimizer step: returns (y_hat (B, O), the mean loss, the gradient norm before
// clipping by norm).  With config.grads_only it stops once the gradients are in grads.
std::tuple<at::Tensor, double, double> train_step(
    at::Tensor x, at::Tensor y, std::vector<int64_t> spec, std::vector<at::Tensor> params,
    std::vector<at::Tensor> grads, std::vector<at::Tensor> exp_avg,
    std::vector<at::Tensor> exp_avg_sq, std::vector<at::Tensor> steps,
    std::vector<double> config) {
  const char* fn = "train_step";
  const std::vector<Layer> L = layers_from(spec, fn);
  const StepConfig cfg = config_from(config, fn);
  const int np = L.back().p + L.back().n_params();
  TORCH_CHECK(np == int(params.size()) && grads.size() == params.size(), fn, ": spec wants ",
              np, " parameters, got ", params.size(), " and ", grads.size(), " gradients");
  const auto dt = rk::floating(x, fn, "x");
  rk::rank(x, fn, "x", 3);
  const int64_t B = x.size(0), T_ = x.size(1);
  TORCH_CHECK(B > 0 && T_ > 0, fn, ": x must have samples and steps, got shape ", x.sizes());
  rk::expect(x, fn, "x", dt, {B, T_, L[0].inputs});
  const AdamState adam{exp_avg, exp_avg_sq, steps};
  if (cfg.adam) check_adam_state(adam, params.size(), fn);
  for (const Layer& ly : L)
    for (int j = 0; j < ly.n_params(); ++j) {
      int64_t shape[2];
      const int rank = param_shape(ly, j, shape);
      check_param(params, grads, adam, cfg.adam, ly.p + j, {shape, size_t(rank)}, dt, fn);
    }
  const int64_t n = per_sample(cfg.loss) ? 1 : L.back().units;   // targets a sample
  if (y.dim() == 1 && n == 1)
    rk::expect(y, fn, "y", dt, {B});
  else
    rk::expect(y, fn, "y", dt, {B, n});
  at::NoGradGuard no_grad;
  std::tuple<at::Tensor, double, double> r;
  AT_DISPATCH_FLOATING_TYPES(dt, "train_step", [&] {
    r = step_impl<scalar_t>(x, y, L, params, grads, adam, cfg, at::get_num_threads());
  });
  bump_versions(params, grads);
  return r;
}

// The second half of a distributed step: clip the (all-reduced) gradients in grads and
// update params, as train_step does after its backward.  Returns the gradient norm before
// clipping by norm.  config as train_step's (its loss and grads_only unused).
double apply_update(std::vector<at::Tensor> params, std::vector<at::Tensor> grads,
                    std::vector<at::Tensor> exp_avg, std::vector<at::Tensor> exp_avg_sq,
                    std::vector<at::Tensor> steps, std::vector<double> config) {
  const char* fn = "apply_update";
  TORCH_CHECK(!params.empty() && grads.size() == params.size(), fn, ": ", params.size(),
              " parameters and ", grads.size(), " gradients");
  const StepConfig cfg = config_from(config, fn);
  const auto dt = rk::floating(params[0], fn, "a parameter");
  const AdamState adam{exp_avg, exp_avg_sq, steps};
  if (cfg.adam) check_adam_state(adam, params.size(), fn);
  std::vector<int64_t> n(params.size());
  for (size_t k = 0; k < params.size(); ++k) {
    check_param(params, grads, adam, cfg.adam, k, params[k].sizes(), dt, fn);
    n[k] = params[k].numel();
  }
  at::NoGradGuard no_grad;
  double norm = 0;
  AT_DISPATCH_FLOATING_TYPES(dt, "apply_update", [&] {
    std::vector<scalar_t*> G(grads.size());
    for (size_t k = 0; k < grads.size(); ++k) G[k] = grads[k].data_ptr<scalar_t>();
    norm = clip_and_update<scalar_t>(params, G, n, adam, cfg);
  });
  bump_versions(params, grads);
  return norm;
}
