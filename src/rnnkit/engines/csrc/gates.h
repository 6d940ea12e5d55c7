// rnnkit: every built-in cell's per-element math, forward and backward, written once.
//
// The step kernels (kernels.cpp, the fused engine) and the training step (train.cpp) both
// call these; the equations are those of rnnkit/cells and of the NumPy reference
// (rnnkit/reference), whose hand-derived BPTT they follow line for line.  Each function
// works on one unit j of one sample: the callers' loops over (B, H) stay `omp simd`.
// Naming: `pre` is a pre-activation, d<x> the gradient of the loss with respect to <x>.
// The integer codes (ACT_*, KIND_*, LOSS_*) come from rnnkit/engines/codes.py, generated
// in front of this file at build time (engines/_ext.py).
// (inlined in front of kernels.cpp and train.cpp by engines/_ext.py: no include guard)
#include <cmath>

namespace gates {

template <typename T> inline T sigmoid(T x) { return T(1) / (T(1) + std::exp(-x)); }

// ---------------------------------------------------------------- activations (SimpleRNN, Dense)
template <typename T> inline T act(int code, T pre) {
  switch (code) {
    case ACT_TANH: return std::tanh(pre);
    case ACT_RELU: return pre > 0 ? pre : T(0);
    case ACT_SIGMOID: return sigmoid(pre);
    default: return pre;                                       // ACT_LINEAR
  }
}
// d act / d pre, from the pre-activation and the output y = act(pre)
template <typename T> inline T act_grad(int code, T pre, T y) {
  switch (code) {
    case ACT_TANH: return 1 - y * y;
    case ACT_RELU: return pre > 0 ? T(1) : T(0);
    case ACT_SIGMOID: return y * (1 - y);
    default: return T(1);                                      // ACT_LINEAR
  }
}

// ---------------------------------------------------------------- LSTM (gate order i, f, g, o)
// In place: the four pre-activations become the gates i, f, o = sigmoid(.), g = tanh(.).
template <typename T> inline void lstm_gates(T& i, T& f, T& g, T& o) {
  i = sigmoid(i); f = sigmoid(f); g = std::tanh(g); o = sigmoid(o);
}
// c' = f c + i g
template <typename T> inline T lstm_cell(T i, T f, T g, T c_prev) { return f * c_prev + i * g; }
// h' = o tanh(c')
template <typename T> inline T lstm_hidden(T o, T c) { return o * std::tanh(c); }

// Backward through c' = f c + i g, given dc_total, the whole gradient reaching c': writes the
// gradients of the pre-activations of i, f, g and returns the gradient reaching c.
template <typename T> inline T lstm_cell_grad(T i, T f, T g, T c_prev, T dc_total, T& dpre_i,
                                              T& dpre_f, T& dpre_g) {
  dpre_i = dc_total * g * i * (1 - i);                         // sigmoid' = s (1 - s)
  dpre_f = dc_total * c_prev * f * (1 - f);
  dpre_g = dc_total * i * (1 - g * g);                         // tanh' = 1 - t^2
  return dc_total * f;
}
// Backward through h' = o s, s = squash(c') with tanh(s) given as ts: the gradient reaching
// s (add it to dc' for a plain LSTM, where s = c') and the pre-activation gradient of o.
template <typename T> inline T lstm_out_grad(T o, T ts, T dh, T& dpre_o) {
  dpre_o = dh * ts * o * (1 - o);
  return dh * o * (1 - ts * ts);
}
// The plain LSTM step's backward: tc = tanh(c'), dh and dc the gradients reaching h' and c'.
template <typename T> inline T lstm_grad(T i, T f, T g, T o, T c_prev, T tc, T dh, T dc,
                                         T& dpre_i, T& dpre_f, T& dpre_g, T& dpre_o) {
  const T dc_total = dc + lstm_out_grad(o, tc, dh, dpre_o);
  return lstm_cell_grad(i, f, g, c_prev, dc_total, dpre_i, dpre_f, dpre_g);
}

// ---------------------------------------------------------------- peephole LSTM (i, f, g, o)
// Gers & Schmidhuber (2000): i and f also read c, o reads c', through per-unit weights.
// In place: the pre-activations (without the peepholes) become the gates.  Returns c'.
template <typename T> inline T peephole_step(T& i, T& f, T& g, T& o, T c_prev, T w_ci, T w_cf,
                                             T w_co) {
  i = sigmoid(i + w_ci * c_prev);
  f = sigmoid(f + w_cf * c_prev);
  g = std::tanh(g);
  const T c = lstm_cell(i, f, g, c_prev);                      // c' = f c + i g
  o = sigmoid(o + w_co * c);
  return c;
}
// Backward: tc = tanh(c'), dh and dc the gradients reaching h' and c'.  Writes the four
// pre-activation gradients and returns the gradient reaching c.
template <typename T> inline T peephole_grad(T i, T f, T g, T o, T c_prev, T tc, T w_ci,
                                             T w_cf, T w_co, T dh, T dc, T& dpre_i, T& dpre_f,
                                             T& dpre_g, T& dpre_o) {
  const T through_h = lstm_out_grad(o, tc, dh, dpre_o);
  const T dc_total = dc + through_h + dpre_o * w_co;           // c' feeds h', o and step t+1
  const T dc_prev = lstm_cell_grad(i, f, g, c_prev, dc_total, dpre_i, dpre_f, dpre_g);
  return dc_prev + dpre_i * w_ci + dpre_f * w_cf;              // c feeds c', i and f
}

// ---------------------------------------------------------------- GRU, reset_after=True (r, z, n)
// x_* = (W_ih x + b_ih) parts, h_* = (W_hh h + b_hh) parts.  In place: r, z, n get the gates;
// returns h' = (1 - z) n + z h.
template <typename T> inline T gru_step(T x_r, T x_z, T x_n, T h_r, T h_z, T h_n, T h_prev,
                                        T& r, T& z, T& n) {
  r = sigmoid(x_r + h_r);
  z = sigmoid(x_z + h_z);
  n = std::tanh(x_n + r * h_n);
  return n + z * (h_prev - n);
}
// Backward: dh the gradient reaching h'.  Writes the pre-activation gradients of r, z and n
// (the input side's; the recurrent side's are the same for r and z, and dpre_n * r for n)
// and returns the gradient reaching h directly (through z h).
template <typename T> inline T gru_grad(T r, T z, T n, T h_n, T h_prev, T dh, T& dpre_r,
                                        T& dpre_z, T& dpre_n) {
  dpre_n = dh * (1 - z) * (1 - n * n);
  dpre_z = dh * (h_prev - n) * z * (1 - z);
  dpre_r = dpre_n * h_n * r * (1 - r);
  return dh * z;
}

}  // namespace gates
