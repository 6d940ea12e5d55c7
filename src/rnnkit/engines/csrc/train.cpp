// rnnkit compiled training step: forward, loss, backpropagation through time, gradient
// clipping and the optimizer update of a small Sequential model in one C++ call.
//
// For the tutorials' tiny models (the sunspots recipe: SimpleRNN(3) + Dense(1), batch 1)
// the arithmetic of a step is a few hundred multiply-adds, while PyTorch's autograd,
// module calls and optimizer cost about a millisecond of framework work.  Here nothing is
// dispatched: the products are plain loops (no GEMM call: below a few dozen units a BLAS
// call costs more than the product), and the backward pass is the hand-derived BPTT of
// rnnkit/reference (the same equations as the fused engine's step kernels).  Python side
// and the rules for when this runs: rnnkit/training/cpp_step.py.
//
// Model spec, 5 ints per layer: kind, input size, units, activation, use_bias (the codes:
//   rnnkit/engines/codes.py, as KIND_*, ACT_*, LOSS_*; the per-element math: gates.h).
//   kind SimpleRNN, LSTM, GRU (reset_after=True), Dense.  RNN layers come first,
//   all but the last return sequences, the last returns its final h; Dense layers follow.
//   activation: an ACT_* code (ACT_SOFTMAX for Dense only).
// Parameters in layer order: RNN w_ih (G, D), w_hh (G, H), [bias (G) | bias_ih, bias_hh];
//   Dense weight (U, D), [bias (U)].  Every tensor contiguous, one floating dtype.
// grads: one tensor per parameter (its p.grad), overwritten with the clipped gradient.
// hyper: lr, beta1, beta2, eps, weight_decay, clip_value (<= 0: none), clip_norm (<= 0: none),
//   optimizer (0 SGD, 1 Adam), loss (a LOSS_* code; for sparse cross-entropy y holds
//   class indices as floats), and optionally a 10th value: 1 = stop once the
//   gradients are in grads (a distributed step all-reduces them, then calls apply_update).
#include <torch/extension.h>
#include <algorithm>
#include <cmath>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace {

using gates::sigmoid;
using gates::act;
using gates::act_grad;

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
// out[c] = base[c] + sum_g Wt[c, g] u[g]   (W^T u for W (G, C))
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

struct Layer {
  int kind, in, units, act, bias, p;   // p: index of its first parameter
  int64_t gates() const { return kind == KIND_LSTM ? 4 * units : kind == KIND_GRU ? 3 * units : units; }
};

// Samples are independent until the loss: each thread runs forward and BPTT for its own
// range of the batch into its own gradient buffers, reduced in thread order afterwards (so a
// given thread count always gives the same sums).  Below PAR_MIN_WORK multiply-adds a step
// is too short to pay for starting a thread.
constexpr int64_t PAR_MIN_WORK = 1 << 18;

// Clip the gradients G (by value, then by global norm) and apply the SGD or Adam update to
// params in place; returns the norm before clipping by norm.  Shared by the whole step and by
// the update that follows a distributed step's all-reduce.
template <typename T>
double clip_and_update(const std::vector<at::Tensor>& params, const std::vector<T*>& G,
                       const std::vector<int64_t>& n_el, const std::vector<at::Tensor>& m,
                       const std::vector<at::Tensor>& v, const std::vector<at::Tensor>& steps,
                       const std::vector<double>& hp) {
  const size_t np = params.size();
  const double clip_value = hp[5], clip_norm = hp[6];
  if (clip_value > 0)
    for (size_t k = 0; k < np; ++k)
      for (int64_t e = 0; e < n_el[k]; ++e)
        G[k][e] = std::min(std::max(G[k][e], T(-clip_value)), T(clip_value));
  double norm = 0;
  for (size_t k = 0; k < np; ++k)
    for (int64_t e = 0; e < n_el[k]; ++e) norm += double(G[k][e]) * double(G[k][e]);
  norm = std::sqrt(norm);
  if (clip_norm > 0) {
    const double coef = std::min(1.0, clip_norm / (norm + 1e-6));   // torch's clip_grad_norm_
    if (coef < 1.0)
      for (size_t k = 0; k < np; ++k)
        for (int64_t e = 0; e < n_el[k]; ++e) G[k][e] *= T(coef);
  }
  const double lr = hp[0], b1 = hp[1], b2 = hp[2], eps = hp[3], wd = hp[4];
  const bool adam = hp[7] > 0.5;
  for (size_t k = 0; k < params.size(); ++k) {
    T* p = params[k].data_ptr<T>();
    const int64_t n = n_el[k];
    T* gk = G[k];
    // weight decay joins the gradient inside the update, as torch's optimizers do (p.grad
    // keeps the loss gradient)
    const T wdt = T(wd);
    if (!adam) {
      for (int64_t e = 0; e < n; ++e) p[e] -= T(lr) * (gk[e] + wdt * p[e]);
      continue;
    }
    const at::Tensor& st = steps[k];
    double s;
    if (st.scalar_type() == at::kFloat) {
      float* sp = st.data_ptr<float>();
      s = double(*sp += 1.0f);
    } else {
      double* sp = st.data_ptr<double>();
      s = (*sp += 1.0);
    }
    const double bc1 = 1 - std::pow(b1, s), bc2 = 1 - std::pow(b2, s);
    const T step_size = T(lr / bc1), bc2s = T(std::sqrt(bc2));
    T* mk = m[k].data_ptr<T>();
    T* vk = v[k].data_ptr<T>();
    for (int64_t e = 0; e < n; ++e) {
      const T ge = gk[e] + wdt * p[e];
      mk[e] = T(b1) * mk[e] + T(1 - b1) * ge;
      vk[e] = T(b2) * vk[e] + T(1 - b2) * ge * ge;
      p[e] -= step_size * mk[e] / (std::sqrt(vk[e]) / bc2s + T(eps));
    }
  }
  return norm;
}

template <typename T>
std::tuple<at::Tensor, double, double> step_impl(
    const at::Tensor& x, const at::Tensor& y, const std::vector<Layer>& L,
    const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& grads,
    const std::vector<at::Tensor>& m,
    const std::vector<at::Tensor>& v, const std::vector<at::Tensor>& steps,
    const std::vector<double>& hp, int64_t max_threads) {
  const int64_t B = x.size(0), T_ = x.size(1), D = x.size(2);
  const int nl = static_cast<int>(L.size());
  int nr = 0;
  while (nr < nl && L[nr].kind != KIND_DENSE) ++nr;                  // RNN layers, then Dense
  const int nd = nl - nr;
  const size_t np = params.size();
  std::vector<const T*> P(np);
  std::vector<int64_t> n_el(np), off(np + 1, 0);             // offsets in a flat gradient
  for (size_t k = 0; k < np; ++k) {
    P[k] = params[k].data_ptr<T>();
    n_el[k] = params[k].numel();
    off[k + 1] = off[k] + n_el[k];
  }
  const int64_t O = nd ? L[nl - 1].units : L[nr - 1].units;
  const int loss_kind = static_cast<int>(hp[8]);
  const bool per_sample = loss_kind >= LOSS_SCE_LOGITS;        // sparse CE: one class index per sample
  const int64_t N = per_sample ? B : B * O;      // the mean's denominator, as torch's
  const T clip_eps = T(1e-7);                    // Keras' epsilon (rnnkit/training/losses.py)
  const T* yt = y.data_ptr<T>();

  // Shared buffers, (T, B, ...) with disjoint rows per sample.  hs[l]: (T+1, B, H) states
  // of RNN layer l (row 0 = the zero initial state); gt[l]: gates (pre-activations for a
  // SimpleRNN); cs[l]: LSTM cell states; aux[l]: GRU W_hn h + b_hn.  xin: x as (T, B, D).
  std::vector<T> xin(T_ * B * D);
  const T* xp = x.data_ptr<T>();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T_; ++t)
      for (int64_t k = 0; k < D; ++k) xin[(t * B + b) * D + k] = xp[(b * T_ + t) * D + k];
  std::vector<std::vector<T>> hs(nr), cs(nr), gt(nr), aux(nr), WiT(nr), WhT(nr), seqgrad(nr);
  int64_t work = 0;
  for (int l = 0; l < nr; ++l) {
    const Layer& ly = L[l];
    const int64_t H = ly.units, In = ly.in, Gn = ly.gates();
    WiT[l].resize(In * Gn);
    WhT[l].resize(H * Gn);
    transpose(P[ly.p], WiT[l].data(), Gn, In);
    transpose(P[ly.p + 1], WhT[l].data(), Gn, H);
    hs[l].assign((T_ + 1) * B * H, T(0));
    gt[l].assign(T_ * B * Gn, T(0));
    if (ly.kind == KIND_LSTM) cs[l].assign((T_ + 1) * B * H, T(0));
    if (ly.kind == KIND_GRU) aux[l].assign(T_ * B * H, T(0));
    if (l > 0) seqgrad[l].assign(T_ * B * In, T(0));   // gradient of layer l-1's outputs
    work += B * T_ * Gn * (In + H);
  }
  std::vector<std::vector<T>> dpre(nd), dout(nd);
  for (int d = 0; d < nd; ++d) {
    dpre[d].assign(B * L[nr + d].units, T(0));
    dout[d].assign(B * L[nr + d].units, T(0));
  }
  const T* v0 = hs[nr - 1].data() + T_ * B * L[nr - 1].units;   // last RNN layer's final h
  const T* yhp = nd ? dout[nd - 1].data() : v0;

  int nt = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(max_threads, B)));
  if (work < PAR_MIN_WORK) nt = 1;
  std::vector<std::vector<T>> TG(nt, std::vector<T>(off[np], T(0)));
  std::vector<double> loss_part(nt, 0.0);

  auto body = [&](int tid, int64_t b0, int64_t b1) {
    T* tg = TG[tid].data();
    // ------------------------------------------------------------ forward
    for (int l = 0; l < nr; ++l) {
      const Layer& ly = L[l];
      const int64_t H = ly.units, In = ly.in, Gn = ly.gates();
      const T* in = l == 0 ? xin.data() : hs[l - 1].data() + B * ly.in;   // rows 1..T
      const T* bi = ly.bias ? P[ly.p + 2] : nullptr;
      const T* bh = (ly.bias && ly.kind == KIND_GRU) ? P[ly.p + 3] : nullptr;
      std::vector<T> zh(Gn);
      for (int64_t t = 0; t < T_; ++t) {
        for (int64_t b = b0; b < b1; ++b) {
          const T* xt = in + (t * B + b) * In;
          const T* h = hs[l].data() + (t * B + b) * H;
          T* hn = hs[l].data() + ((t + 1) * B + b) * H;
          T* z = gt[l].data() + (t * B + b) * Gn;
          for (int64_t j = 0; j < Gn; ++j) z[j] = bi ? bi[j] : T(0);
          vmt(WiT[l].data(), xt, z, In, Gn);
          if (ly.kind == KIND_GRU) {                                // recurrent side kept apart
            for (int64_t j = 0; j < Gn; ++j) zh[j] = bh ? bh[j] : T(0);
            vmt(WhT[l].data(), h, zh.data(), H, Gn);
            T* zn = aux[l].data() + (t * B + b) * H;
            _Pragma("omp simd")
            for (int64_t j = 0; j < H; ++j) {
              T r, u, n;                                       // u: the update gate z
              hn[j] = gates::gru_step(z[j], z[H + j], z[2 * H + j], zh[j], zh[H + j],
                                      zh[2 * H + j], h[j], r, u, n);
              zn[j] = zh[2 * H + j];
              z[j] = r; z[H + j] = u; z[2 * H + j] = n;
            }
          } else {
            vmt(WhT[l].data(), h, z, H, Gn);
            if (ly.kind == KIND_SIMPLE) {
              for (int64_t j = 0; j < H; ++j) hn[j] = act(ly.act, z[j]);   // z keeps pre
            } else {
              const T* c = cs[l].data() + (t * B + b) * H;
              T* cn = cs[l].data() + ((t + 1) * B + b) * H;
              _Pragma("omp simd")
              for (int64_t j = 0; j < H; ++j) {
                T i = z[j], f = z[H + j], g = z[2 * H + j], o = z[3 * H + j];
                gates::lstm_gates(i, f, g, o);
                z[j] = i; z[H + j] = f; z[2 * H + j] = g; z[3 * H + j] = o;
                cn[j] = gates::lstm_cell(i, f, g, c[j]);
                hn[j] = o * std::tanh(cn[j]);
              }
            }
          }
        }
      }
    }
    for (int d = 0; d < nd; ++d) {                           // Dense layers on the final h
      const Layer& ly = L[nr + d];
      const T* in = d == 0 ? v0 : dout[d - 1].data();
      for (int64_t b = b0; b < b1; ++b) {
        T* a = dpre[d].data() + b * ly.units;
        for (int64_t j = 0; j < ly.units; ++j) a[j] = ly.bias ? P[ly.p + 1][j] : T(0);
        mv(P[ly.p], in + b * ly.in, a, ly.units, ly.in);
        T* o = dout[d].data() + b * ly.units;
        if (ly.act == ACT_SOFTMAX) {                                   // softmax over the row
          T mx = a[0], sum = 0;
          for (int64_t j = 1; j < ly.units; ++j) mx = std::max(mx, a[j]);
          for (int64_t j = 0; j < ly.units; ++j) sum += (o[j] = std::exp(a[j] - mx));
          for (int64_t j = 0; j < ly.units; ++j) o[j] /= sum;
        } else {
          for (int64_t j = 0; j < ly.units; ++j) o[j] = act(ly.act, a[j]);
        }
      }
    }
    // ------------------------------------------------------------ loss and its gradient
    // kinds: 0 MSE, 1 MAE, 2 binary CE from logits, 3 binary CE on probabilities (clamped
    // to [eps, 1 - eps]), 4 sparse CE from logits, 5 sparse CE on probabilities (clamped to
    // [eps, 1]); a clamped value passes no gradient, as torch's clamp.
    std::vector<T> g((b1 - b0) * O, T(0));
    double part = 0;
    if (per_sample) {
      for (int64_t b = b0; b < b1; ++b) {
        const T* z = yhp + b * O;
        T* gb = g.data() + (b - b0) * O;
        const int64_t c = static_cast<int64_t>(yt[b]);
        if (loss_kind == LOSS_SCE_LOGITS) {
          T mx = z[0], sum = 0;
          for (int64_t j = 1; j < O; ++j) mx = std::max(mx, z[j]);
          for (int64_t j = 0; j < O; ++j) sum += std::exp(z[j] - mx);
          const T lse = mx + std::log(sum);
          part += double(lse - z[c]);
          for (int64_t j = 0; j < O; ++j) gb[j] = std::exp(z[j] - lse) / T(N);
          gb[c] -= T(1) / T(N);
        } else {
          const T pc = std::min(std::max(z[c], clip_eps), T(1));
          part -= double(std::log(pc));
          if (z[c] >= clip_eps && z[c] <= T(1)) gb[c] = -T(1) / (pc * T(N));
        }
      }
    } else {
      for (int64_t k = b0 * O; k < b1 * O; ++k) {
        const T zk = yhp[k], t = yt[k];
        T& gk = g[k - b0 * O];
        if (loss_kind == LOSS_MSE) {
          const T dlt = zk - t;
          part += double(dlt) * double(dlt);
          gk = 2 * dlt / T(N);
        } else if (loss_kind == LOSS_MAE) {
          const T dlt = zk - t;
          part += std::fabs(double(dlt));
          gk = (dlt > 0 ? T(1) : dlt < 0 ? T(-1) : T(0)) / T(N);
        } else if (loss_kind == LOSS_BCE_LOGITS) {
          part += double(std::max(zk, T(0)) - zk * t + std::log1p(std::exp(-std::fabs(zk))));
          gk = (sigmoid(zk) - t) / T(N);
        } else {
          const T pc = std::min(std::max(zk, clip_eps), T(1) - clip_eps);
          part -= double(t * std::log(pc) + (1 - t) * std::log(1 - pc));
          if (zk >= clip_eps && zk <= T(1) - clip_eps) gk = (pc - t) / (pc * (1 - pc) * T(N));
        }
      }
    }
    loss_part[tid] = part;
    // ------------------------------------------------------------ backward
    for (int d = nd - 1; d >= 0; --d) {                      // g: gradient of dout[d]
      const Layer& ly = L[nr + d];
      const T* in = d == 0 ? v0 : dout[d - 1].data();
      std::vector<T> gin((b1 - b0) * ly.in, T(0));
      for (int64_t b = b0; b < b1; ++b) {
        T* gb = g.data() + (b - b0) * ly.units;
        const T* o = dout[d].data() + b * ly.units;
        if (ly.act == ACT_SOFTMAX) {                                   // softmax: p (g - sum g p)
          T s = 0;
          for (int64_t j = 0; j < ly.units; ++j) s += gb[j] * o[j];
          for (int64_t j = 0; j < ly.units; ++j) gb[j] = o[j] * (gb[j] - s);
        } else {
          for (int64_t j = 0; j < ly.units; ++j)
            gb[j] *= act_grad(ly.act, dpre[d][b * ly.units + j], o[j]);
        }
        outer(tg + off[ly.p], gb, in + b * ly.in, ly.units, ly.in);
        if (ly.bias) for (int64_t j = 0; j < ly.units; ++j) tg[off[ly.p + 1] + j] += gb[j];
        mtv(P[ly.p], gb, gin.data() + (b - b0) * ly.in, ly.units, ly.in);
      }
      g.swap(gin);
    }
    // g: gradient of the last RNN layer's final h, rows b0..b1.  seqgrad[l + 1]: gradient
    // of layer l's whole output sequence, written by the layer above.
    for (int l = nr - 1; l >= 0; --l) {
      const Layer& ly = L[l];
      const int64_t H = ly.units, In = ly.in, Gn = ly.gates();
      const T* in = l == 0 ? xin.data() : hs[l - 1].data() + B * ly.in;
      const T* dyl = l + 1 < nr ? seqgrad[l + 1].data() : nullptr;
      T* dxl = l > 0 ? seqgrad[l].data() : nullptr;
      T* gbi = ly.bias ? tg + off[ly.p + 2] : nullptr;
      T* gbh = (ly.bias && ly.kind == KIND_GRU) ? tg + off[ly.p + 3] : nullptr;
      std::vector<T> gWiT(In * Gn, T(0)), gWhT(H * Gn, T(0));   // transposed accumulators
      std::vector<T> dh((b1 - b0) * H, T(0)), dc((b1 - b0) * H, T(0)), dz(Gn), dzh(Gn);
      if (l == nr - 1) std::copy(g.begin(), g.begin() + (b1 - b0) * H, dh.begin());
      for (int64_t t = T_ - 1; t >= 0; --t) {
        for (int64_t b = b0; b < b1; ++b) {
          T* dhb = dh.data() + (b - b0) * H;
          if (dyl) for (int64_t j = 0; j < H; ++j) dhb[j] += dyl[(t * B + b) * H + j];
          const T* a = gt[l].data() + (t * B + b) * Gn;
          const T* h = hs[l].data() + (t * B + b) * H;
          const T* hn = hs[l].data() + ((t + 1) * B + b) * H;
          const T* xt = in + (t * B + b) * In;
          if (ly.kind == KIND_SIMPLE) {
            for (int64_t j = 0; j < H; ++j) dz[j] = dhb[j] * act_grad(ly.act, a[j], hn[j]);
          } else if (ly.kind == KIND_LSTM) {
            const T* c = cs[l].data() + (t * B + b) * H;
            const T* cn = cs[l].data() + ((t + 1) * B + b) * H;
            T* dcb = dc.data() + (b - b0) * H;
            _Pragma("omp simd")
            for (int64_t j = 0; j < H; ++j) {
              dcb[j] = gates::lstm_grad(a[j], a[H + j], a[2 * H + j], a[3 * H + j], c[j],
                                        std::tanh(cn[j]), dhb[j], dcb[j], dz[j], dz[H + j],
                                        dz[2 * H + j], dz[3 * H + j]);
            }
          } else {
            const T* zn = aux[l].data() + (t * B + b) * H;
            _Pragma("omp simd")
            for (int64_t j = 0; j < H; ++j) {
              T dr, du, dn;                          // the z h path: dhb *= u below
              gates::gru_grad(a[j], a[H + j], a[2 * H + j], zn[j], h[j], dhb[j], dr, du, dn);
              dz[j] = dr; dz[H + j] = du; dz[2 * H + j] = dn;
              dzh[j] = dr; dzh[H + j] = du; dzh[2 * H + j] = dn * a[j];
            }
          }
          const T* dr = ly.kind == KIND_GRU ? dzh.data() : dz.data();   // recurrent-side gradient
          outer(gWiT.data(), xt, dz.data(), In, Gn);
          outer(gWhT.data(), h, dr, H, Gn);
          if (gbi) for (int64_t j = 0; j < Gn; ++j) gbi[j] += dz[j];
          if (gbh) for (int64_t j = 0; j < Gn; ++j) gbh[j] += dzh[j];
          if (dxl) wtu(WiT[l].data(), dz.data(), dxl + (t * B + b) * In, In, Gn);
          if (ly.kind == KIND_GRU) {
            for (int64_t j = 0; j < H; ++j) dhb[j] *= a[H + j];   // the z h path
          } else {
            std::fill(dhb, dhb + H, T(0));
          }
          wtu(WhT[l].data(), dr, dhb, H, Gn);
        }
      }
      T* gWi = tg + off[ly.p];
      T* gWh = tg + off[ly.p + 1];
      for (int64_t r = 0; r < Gn; ++r) {
        for (int64_t c = 0; c < In; ++c) gWi[r * In + c] += gWiT[c * Gn + r];
        for (int64_t c = 0; c < H; ++c) gWh[r * H + c] += gWhT[c * Gn + r];
      }
    }
  };

  if (nt == 1) {
    body(0, 0, B);
  } else {
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

  double loss = 0;
  for (double part : loss_part) loss += part;
  loss = double(T(loss / double(N)));   // in the model's dtype: float32 overflows as torch's
  at::Tensor out = at::empty({B, O}, x.options());
  std::copy(yhp, yhp + B * O, out.data_ptr<T>());
  if (!std::isfinite(loss)) return {out, loss, 0.0};   // as autograd: p.grad, p untouched

  // ---------------------------------------------------------------- reduce, clip, update
  std::vector<T*> G(np);                 // gradients, left in p.grad as autograd would
  for (size_t k = 0; k < np; ++k) {
    G[k] = grads[k].data_ptr<T>();
    std::copy(TG[0].data() + off[k], TG[0].data() + off[k + 1], G[k]);
    for (int th = 1; th < nt; ++th)
      for (int64_t e = 0; e < n_el[k]; ++e) G[k][e] += TG[th][off[k] + e];
  }
  if (hp.size() > 9 && hp[9] > 0.5) return {out, loss, 0.0};   // gradients only (DDP)
  const double norm = clip_and_update<T>(params, G, n_el, m, v, steps, hp);
  return {out, loss, norm};
}

}  // namespace

std::tuple<at::Tensor, double, double> train_step(
    at::Tensor x, at::Tensor y, std::vector<int64_t> spec, std::vector<at::Tensor> params,
    std::vector<at::Tensor> grads, std::vector<at::Tensor> exp_avg, std::vector<at::Tensor> exp_avg_sq,
    std::vector<at::Tensor> steps, std::vector<double> hyper) {
  std::vector<Layer> L;
  int p = 0;
  for (size_t k = 0; k + 4 < spec.size(); k += 5) {
    Layer ly{int(spec[k]), int(spec[k + 1]), int(spec[k + 2]), int(spec[k + 3]),
             int(spec[k + 4]), p};
    p += ly.kind == KIND_DENSE ? 1 + ly.bias : 2 + (ly.bias ? (ly.kind == KIND_GRU ? 2 : 1) : 0);
    L.push_back(ly);
  }
  const char* fn = "train_step";
  TORCH_CHECK(spec.size() % 5 == 0 && !L.empty(), fn, ": spec must hold 5 codes a layer, got ",
              spec.size());
  TORCH_CHECK(p == int(params.size()) && grads.size() == params.size(),
              fn, ": spec wants ", p, " parameters, got ", params.size(), " and ", grads.size(),
              " gradients");
  TORCH_CHECK(hyper.size() == 9 || hyper.size() == 10, fn,
              ": hyper must hold 9 values (10 with the gradients-only flag), got ", hyper.size());
  const bool adam = hyper[7] != 0;
  const int loss_kind = static_cast<int>(hyper[8]);
  TORCH_CHECK(loss_kind >= 0 && loss_kind <= LOSS_MAX, fn, ": unknown loss code ", loss_kind);
  const auto dt = rk::floating(x, fn, "x");
  rk::rank(x, fn, "x", 3);
  const int64_t B = x.size(0), steps_ = x.size(1);
  TORCH_CHECK(B > 0 && steps_ > 0, fn, ": x must have samples and steps, got shape ", x.sizes());
  rk::expect(x, fn, "x", dt, {B, steps_, L[0].in});
  TORCH_CHECK(!adam || (exp_avg.size() == params.size() && exp_avg_sq.size() == params.size()),
              fn, ": Adam moments for ", exp_avg.size(), " and ", exp_avg_sq.size(), " of ",
              params.size(), " parameters");
  bool dense_seen = false;
  for (size_t k = 0; k < L.size(); ++k) {
    const Layer& ly = L[k];
    TORCH_CHECK(ly.kind >= 0 && ly.kind <= KIND_MAX && ly.in > 0 && ly.units > 0 &&
                ly.act >= 0 && ly.act <= (ly.kind == KIND_DENSE ? ACT_SOFTMAX : ACT_MAX),
                fn, ": layer ", k, " has invalid codes");
    TORCH_CHECK(ly.kind == KIND_DENSE || !dense_seen, fn, ": layer ", k, " is recurrent after a Dense");
    TORCH_CHECK(k == 0 || ly.in == L[k - 1].units, fn, ": layer ", k, " takes ", ly.in,
                " inputs but layer ", k - 1, " gives ", L[k - 1].units);
    dense_seen = dense_seen || ly.kind == KIND_DENSE;
    const int64_t G = ly.gates();
    std::vector<std::vector<int64_t>> shapes;
    if (ly.kind == KIND_DENSE) {
      shapes = {{ly.units, ly.in}};
      if (ly.bias) shapes.push_back({ly.units});
    } else {
      shapes = {{G, ly.in}, {G, ly.units}};
      for (int b = 0; b < (ly.bias ? (ly.kind == KIND_GRU ? 2 : 1) : 0); ++b) shapes.push_back({G});
    }
    for (size_t j = 0; j < shapes.size(); ++j) {
      const at::IntArrayRef want(shapes[j]);
      rk::expect(params[ly.p + j], fn, "a parameter", dt, want);
      rk::expect(grads[ly.p + j], fn, "a gradient", dt, want);
      if (adam) {
        rk::expect(exp_avg[ly.p + j], fn, "Adam's exp_avg", dt, want);
        rk::expect(exp_avg_sq[ly.p + j], fn, "Adam's exp_avg_sq", dt, want);
      }
    }
  }
  const int64_t O = L.back().units;
  TORCH_CHECK(y.scalar_type() == dt && y.is_contiguous() && y.device().is_cpu() &&
              y.numel() == B * (loss_kind >= 4 ? 1 : O), fn, ": y must be a contiguous CPU ", dt,
              " tensor of ", B * (loss_kind >= 4 ? 1 : O), " values, got ", y.scalar_type(), " ",
              y.sizes());
  if (adam) {
    TORCH_CHECK(steps.size() == params.size() && exp_avg.size() == params.size() &&
                exp_avg_sq.size() == params.size(), fn, ": Adam state for ", exp_avg.size(),
                ", ", exp_avg_sq.size(), ", ", steps.size(), " of ", params.size(),
                " parameters");
    for (const auto& st : steps)
      TORCH_CHECK(st.numel() == 1 && st.device().is_cpu() && (st.scalar_type() == at::kFloat ||
                  st.scalar_type() == at::kDouble), fn, ": Adam step must be one float number");
  }
  at::NoGradGuard no_grad;
  std::tuple<at::Tensor, double, double> r;
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "train_step", [&] {
    r = step_impl<scalar_t>(x, y, L, params, grads, exp_avg, exp_avg_sq, steps, hyper,
                            at::get_num_threads());
  });
  for (auto& t : params) t.unsafeGetTensorImpl()->bump_version();
  for (auto& t : grads) t.unsafeGetTensorImpl()->bump_version();
  return r;
}

// The second half of a distributed step: clip the (all-reduced) gradients in grads and
// update params with SGD or Adam, as train_step does after its backward.  Returns the
// gradient norm before clipping by norm.  hyper as train_step's (the loss code unused).
double apply_update(std::vector<at::Tensor> params, std::vector<at::Tensor> grads,
                    std::vector<at::Tensor> exp_avg, std::vector<at::Tensor> exp_avg_sq,
                    std::vector<at::Tensor> steps, std::vector<double> hyper) {
  const char* fn = "apply_update";
  TORCH_CHECK(!params.empty() && grads.size() == params.size(), fn, ": ", params.size(),
              " parameters and ", grads.size(), " gradients");
  TORCH_CHECK(hyper.size() >= 9, fn, ": hyper must hold 9 values, got ", hyper.size());
  const bool adam = hyper[7] != 0;
  const auto dt = rk::floating(params[0], fn, "a parameter");
  TORCH_CHECK(!adam || (exp_avg.size() == params.size() && exp_avg_sq.size() == params.size() &&
                        steps.size() == params.size()),
              fn, ": Adam state for ", exp_avg.size(), ", ", exp_avg_sq.size(), ", ",
              steps.size(), " of ", params.size(), " parameters");
  std::vector<int64_t> n_el(params.size());
  for (size_t k = 0; k < params.size(); ++k) {
    const at::IntArrayRef want = params[k].sizes();
    rk::expect(params[k], fn, "a parameter", dt, want);
    rk::expect(grads[k], fn, "a gradient", dt, want);
    if (adam) {
      rk::expect(exp_avg[k], fn, "Adam's exp_avg", dt, want);
      rk::expect(exp_avg_sq[k], fn, "Adam's exp_avg_sq", dt, want);
      TORCH_CHECK(steps[k].numel() == 1 && steps[k].device().is_cpu() &&
                  (steps[k].scalar_type() == at::kFloat || steps[k].scalar_type() == at::kDouble),
                  fn, ": Adam step must be one float number");
    }
    n_el[k] = params[k].numel();
  }
  at::NoGradGuard no_grad;
  double norm = 0;
  AT_DISPATCH_FLOATING_TYPES(dt, "apply_update", [&] {
    std::vector<scalar_t*> G(grads.size());
    for (size_t k = 0; k < grads.size(); ++k) G[k] = grads[k].data_ptr<scalar_t>();
    norm = clip_and_update<scalar_t>(params, G, n_el, exp_avg, exp_avg_sq, steps, hyper);
  });
  for (auto& t : params) t.unsafeGetTensorImpl()->bump_version();
  for (auto& t : grads) t.unsafeGetTensorImpl()->bump_version();
  return norm;
}
