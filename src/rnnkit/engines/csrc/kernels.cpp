// rnnkit fused engine: the elementwise gate arithmetic of one time step, forward and
// backward, in one pass over (B, H).  The time loop and every GEMM stay in PyTorch
// (rnnkit/engines/fused.py); these functions replace the dozen small tensor ops per step
// whose dispatch cost dominates small RNNs.  The math itself is gates.h's (shared with
// train.cpp); here are the loops, the layouts and the entry checks.
// Built with -O3 -ffast-math -march=native so that the loops below vectorise and call
// glibc's vector exp/tanh (libmvec); the build is cached per CPU model (rnnkit/engines/_ext.py).
#include <torch/extension.h>
#include <cmath>

// Entry checks.  Every function below checks each tensor it indexes -- device, dtype,
// exact shape, contiguity -- before touching memory, so a caller's mistake is a Python
// RuntimeError naming the function and the argument, never a read or write out of bounds.
// train.cpp is compiled in the same unit (engines/_ext.py) and uses them too.
namespace rk {
using Sizes = at::IntArrayRef;

inline at::ScalarType floating(const at::Tensor& t, const char* fn, const char* name) {
  TORCH_CHECK(t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble, fn, ": ", name,
              " must be float32 or float64, got ", t.scalar_type());
  return t.scalar_type();
}

inline void rank(const at::Tensor& t, const char* fn, const char* name, int64_t r) {
  TORCH_CHECK(t.dim() == r, fn, ": ", name, " must have ", r, " dimensions, got shape ",
              t.sizes());
}

inline void expect(const at::Tensor& t, const char* fn, const char* name, at::ScalarType dt,
                   Sizes sizes) {
  TORCH_CHECK(t.device().is_cpu(), fn, ": ", name, " must be a CPU tensor");
  TORCH_CHECK(t.scalar_type() == dt, fn, ": ", name, " has dtype ", t.scalar_type(),
              ", expected ", dt);
  TORCH_CHECK(t.sizes().equals(sizes), fn, ": ", name, " has shape ", t.sizes(),
              ", expected ", sizes);
  TORCH_CHECK(t.is_contiguous(), fn, ": ", name, " must be contiguous");
}

// An optional argument: empty (numel 0) for "none", else exactly as `expect` says.
inline void expect_opt(const at::Tensor& t, const char* fn, const char* name, at::ScalarType dt,
                       Sizes sizes) {
  if (t.numel() != 0) expect(t, fn, name, dt, sizes);
}
}  // namespace rk

// z (B, 4H): pre-activations in, activated gates i, f, g, o out (in place).
void lstm_fwd_step(at::Tensor z, at::Tensor c_prev, at::Tensor c_out, at::Tensor h_out) {
  const int64_t B = c_prev.size(0), H = c_prev.size(1);
  const char* fn = "lstm_fwd_step";
  const auto dt = rk::floating(z, fn, "z");
  rk::rank(c_prev, fn, "c_prev", 2);
  rk::expect(z, fn, "z", dt, {B, 4 * H});
  for (auto& [t, n] : {std::pair{c_prev, "c_prev"}, {c_out, "c_out"}, {h_out, "h_out"}})
    rk::expect(t, fn, n, dt, {B, H});
  AT_DISPATCH_FLOATING_TYPES(z.scalar_type(), "lstm_fwd_step", [&] {
    scalar_t* zp = z.data_ptr<scalar_t>();
    const scalar_t* cp = c_prev.data_ptr<scalar_t>();
    scalar_t* co = c_out.data_ptr<scalar_t>();
    scalar_t* ho = h_out.data_ptr<scalar_t>();
    for (int64_t b = 0; b < B; ++b) {
      scalar_t* zr = zp + b * 4 * H;
      _Pragma("omp simd")
      for (int64_t j = 0; j < H; ++j) {
        scalar_t i = zr[j], f = zr[H + j], g = zr[2 * H + j], o = zr[3 * H + j];
        gates::lstm_gates(i, f, g, o);
        zr[j] = i; zr[H + j] = f; zr[2 * H + j] = g; zr[3 * H + j] = o;
        const scalar_t c = gates::lstm_cell(i, f, g, cp[b * H + j]);
        co[b * H + j] = c;
        ho[b * H + j] = o * std::tanh(c);                          // h' = o tanh(c')
      }
    }
  });
}

// gates (B, 4H) activated; dh, dc: gradients reaching h', c'.  Writes dz (B, 4H) and dc_prev.
void lstm_bwd_step(at::Tensor gates, at::Tensor c_prev, at::Tensor dh, at::Tensor dc,
                   at::Tensor dz, at::Tensor dc_prev) {
  const int64_t B = c_prev.size(0), H = c_prev.size(1);
  const char* fn = "lstm_bwd_step";
  const auto dt = rk::floating(gates, fn, "gates");
  rk::rank(c_prev, fn, "c_prev", 2);
  rk::expect(gates, fn, "gates", dt, {B, 4 * H});
  rk::expect(dz, fn, "dz", dt, {B, 4 * H});
  for (auto& [t, n] : {std::pair{c_prev, "c_prev"}, {dh, "dh"}, {dc, "dc"}, {dc_prev, "dc_prev"}})
    rk::expect(t, fn, n, dt, {B, H});
  AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "lstm_bwd_step", [&] {
    const scalar_t* ap = gates.data_ptr<scalar_t>();
    const scalar_t* cp = c_prev.data_ptr<scalar_t>();
    const scalar_t* dhp = dh.data_ptr<scalar_t>();
    const scalar_t* dcp = dc.data_ptr<scalar_t>();
    scalar_t* dzp = dz.data_ptr<scalar_t>();
    scalar_t* dcop = dc_prev.data_ptr<scalar_t>();
    for (int64_t b = 0; b < B; ++b) {
      const scalar_t* a = ap + b * 4 * H;
      scalar_t* d = dzp + b * 4 * H;
      _Pragma("omp simd")
      for (int64_t j = 0; j < H; ++j) {
        const int64_t k = b * H + j;
        const scalar_t i = a[j], f = a[H + j], g = a[2 * H + j], o = a[3 * H + j];
        const scalar_t tc = std::tanh(gates::lstm_cell(i, f, g, cp[k]));
        dcop[k] = gates::lstm_grad(i, f, g, o, cp[k], tc, dhp[k], dcp[k], d[j], d[H + j],
                                   d[2 * H + j], d[3 * H + j]);
      }
    }
  });
}

// Peephole LSTM (rnnkit/cells/peephole.py).  z (B, 4H): W_ih x + W_hh h + b in, gates
// i, f, g, o out (in place); w_ci, w_cf, w_co (H) the peephole weights.
void peephole_fwd_step(at::Tensor z, at::Tensor w_ci, at::Tensor w_cf, at::Tensor w_co,
                       at::Tensor c_prev, at::Tensor c_out, at::Tensor h_out) {
  const int64_t B = c_prev.size(0), H = c_prev.size(1);
  const char* fn = "peephole_fwd_step";
  const auto dt = rk::floating(z, fn, "z");
  rk::rank(c_prev, fn, "c_prev", 2);
  rk::expect(z, fn, "z", dt, {B, 4 * H});
  for (auto& [t, n] : {std::pair{w_ci, "w_ci"}, {w_cf, "w_cf"}, {w_co, "w_co"}})
    rk::expect(t, fn, n, dt, {H});
  for (auto& [t, n] : {std::pair{c_prev, "c_prev"}, {c_out, "c_out"}, {h_out, "h_out"}})
    rk::expect(t, fn, n, dt, {B, H});
  AT_DISPATCH_FLOATING_TYPES(z.scalar_type(), "peephole_fwd_step", [&] {
    scalar_t* zp = z.data_ptr<scalar_t>();
    const scalar_t* pi = w_ci.data_ptr<scalar_t>();
    const scalar_t* pf = w_cf.data_ptr<scalar_t>();
    const scalar_t* po = w_co.data_ptr<scalar_t>();
    const scalar_t* cp = c_prev.data_ptr<scalar_t>();
    scalar_t* co = c_out.data_ptr<scalar_t>();
    scalar_t* ho = h_out.data_ptr<scalar_t>();
    for (int64_t b = 0; b < B; ++b) {
      scalar_t* zr = zp + b * 4 * H;
      _Pragma("omp simd")
      for (int64_t j = 0; j < H; ++j) {
        scalar_t i = zr[j], f = zr[H + j], g = zr[2 * H + j], o = zr[3 * H + j];
        const scalar_t c = gates::peephole_step(i, f, g, o, cp[b * H + j], pi[j], pf[j], po[j]);
        zr[j] = i; zr[H + j] = f; zr[2 * H + j] = g; zr[3 * H + j] = o;
        co[b * H + j] = c;
        ho[b * H + j] = o * std::tanh(c);                          // h' = o tanh(c')
      }
    }
  });
}

// gates (B, 4H) activated; dh, dc: gradients reaching h', c'.  Writes dz (B, 4H) and dc_prev
// (which may be dc).
void peephole_bwd_step(at::Tensor gates, at::Tensor w_ci, at::Tensor w_cf, at::Tensor w_co,
                       at::Tensor c_prev, at::Tensor dh, at::Tensor dc, at::Tensor dz,
                       at::Tensor dc_prev) {
  const int64_t B = c_prev.size(0), H = c_prev.size(1);
  const char* fn = "peephole_bwd_step";
  const auto dt = rk::floating(gates, fn, "gates");
  rk::rank(c_prev, fn, "c_prev", 2);
  rk::expect(gates, fn, "gates", dt, {B, 4 * H});
  rk::expect(dz, fn, "dz", dt, {B, 4 * H});
  for (auto& [t, n] : {std::pair{w_ci, "w_ci"}, {w_cf, "w_cf"}, {w_co, "w_co"}})
    rk::expect(t, fn, n, dt, {H});
  for (auto& [t, n] : {std::pair{c_prev, "c_prev"}, {dh, "dh"}, {dc, "dc"}, {dc_prev, "dc_prev"}})
    rk::expect(t, fn, n, dt, {B, H});
  AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "peephole_bwd_step", [&] {
    const scalar_t* ap = gates.data_ptr<scalar_t>();
    const scalar_t* pi = w_ci.data_ptr<scalar_t>();
    const scalar_t* pf = w_cf.data_ptr<scalar_t>();
    const scalar_t* po = w_co.data_ptr<scalar_t>();
    const scalar_t* cp = c_prev.data_ptr<scalar_t>();
    const scalar_t* dhp = dh.data_ptr<scalar_t>();
    const scalar_t* dcp = dc.data_ptr<scalar_t>();
    scalar_t* dzp = dz.data_ptr<scalar_t>();
    scalar_t* dcop = dc_prev.data_ptr<scalar_t>();
    for (int64_t b = 0; b < B; ++b) {
      const scalar_t* a = ap + b * 4 * H;
      scalar_t* d = dzp + b * 4 * H;
      _Pragma("omp simd")
      for (int64_t j = 0; j < H; ++j) {
        const int64_t k = b * H + j;
        const scalar_t i = a[j], f = a[H + j], g = a[2 * H + j], o = a[3 * H + j];
        const scalar_t tc = std::tanh(gates::lstm_cell(i, f, g, cp[k]));
        dcop[k] = gates::peephole_grad(i, f, g, o, cp[k], tc, pi[j], pf[j], po[j], dhp[k],
                                       dcp[k], d[j], d[H + j], d[2 * H + j], d[3 * H + j]);
      }
    }
  });
}

// GRU, reset_after=True.  zx (B, 3H) = W_ih x + b_ih, zh (B, 3H) = W_hh h + b_hh.
// Writes gates r, z, n (B, 3H) and h'.
void gru_fwd_step(at::Tensor zx, at::Tensor zh, at::Tensor h_prev, at::Tensor gates,
                  at::Tensor h_out) {
  const int64_t B = h_prev.size(0), H = h_prev.size(1);
  const char* fn = "gru_fwd_step";
  const auto dt = rk::floating(zx, fn, "zx");
  rk::rank(h_prev, fn, "h_prev", 2);
  for (auto& [t, n] : {std::pair{zx, "zx"}, {zh, "zh"}, {gates, "gates"}})
    rk::expect(t, fn, n, dt, {B, 3 * H});
  rk::expect(h_prev, fn, "h_prev", dt, {B, H});
  rk::expect(h_out, fn, "h_out", dt, {B, H});
  AT_DISPATCH_FLOATING_TYPES(zx.scalar_type(), "gru_fwd_step", [&] {
    const scalar_t* xp = zx.data_ptr<scalar_t>();
    const scalar_t* hp_ = zh.data_ptr<scalar_t>();
    const scalar_t* hprev = h_prev.data_ptr<scalar_t>();
    scalar_t* ap = gates.data_ptr<scalar_t>();
    scalar_t* ho = h_out.data_ptr<scalar_t>();
    for (int64_t b = 0; b < B; ++b) {
      const scalar_t* x = xp + b * 3 * H;
      const scalar_t* h = hp_ + b * 3 * H;
      scalar_t* a = ap + b * 3 * H;
      _Pragma("omp simd")
      for (int64_t j = 0; j < H; ++j) {
        scalar_t r, z, n;
        ho[b * H + j] = gates::gru_step(x[j], x[H + j], x[2 * H + j], h[j], h[H + j],
                                        h[2 * H + j], hprev[b * H + j], r, z, n);
        a[j] = r; a[H + j] = z; a[2 * H + j] = n;
      }
    }
  });
}

// dh: gradient reaching h'.  hn (B, H) = W_hn h + b_hn.  Writes dzx (B, 3H) for the input
// side, dzh (B, 3H) for the recurrent side, and dh_direct = dh * z (the z h path).
void gru_bwd_step(at::Tensor gates, at::Tensor zh, at::Tensor h_prev, at::Tensor dh,
                  at::Tensor dzx, at::Tensor dzh, at::Tensor dh_direct) {
  const int64_t B = h_prev.size(0), H = h_prev.size(1);
  const char* fn = "gru_bwd_step";
  const auto dt = rk::floating(gates, fn, "gates");
  rk::rank(h_prev, fn, "h_prev", 2);
  for (auto& [t, n] : {std::pair{gates, "gates"}, {zh, "zh"}, {dzx, "dzx"}, {dzh, "dzh"}})
    rk::expect(t, fn, n, dt, {B, 3 * H});
  for (auto& [t, n] : {std::pair{h_prev, "h_prev"}, {dh, "dh"}, {dh_direct, "dh_direct"}})
    rk::expect(t, fn, n, dt, {B, H});
  AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "gru_bwd_step", [&] {
    const scalar_t* ap = gates.data_ptr<scalar_t>();
    const scalar_t* zhp = zh.data_ptr<scalar_t>();
    const scalar_t* hprev = h_prev.data_ptr<scalar_t>();
    const scalar_t* dhp = dh.data_ptr<scalar_t>();
    scalar_t* dxp = dzx.data_ptr<scalar_t>();
    scalar_t* dhhp = dzh.data_ptr<scalar_t>();
    scalar_t* ddp = dh_direct.data_ptr<scalar_t>();
    for (int64_t b = 0; b < B; ++b) {
      const scalar_t* a = ap + b * 3 * H;
      scalar_t* dx = dxp + b * 3 * H;
      scalar_t* dhh = dhhp + b * 3 * H;
      _Pragma("omp simd")
      for (int64_t j = 0; j < H; ++j) {
        const int64_t k = b * H + j;
        const scalar_t r = a[j], z = a[H + j], n = a[2 * H + j];
        scalar_t dr, dz, dn;
        ddp[k] = gates::gru_grad(r, z, n, zhp[b * 3 * H + 2 * H + j], hprev[k], dhp[k], dr, dz,
                                 dn);
        dx[j] = dr; dx[H + j] = dz; dx[2 * H + j] = dn;
        dhh[j] = dr; dhh[H + j] = dz; dhh[2 * H + j] = dn * r;       // r * (W_hn h + b_hn)
      }
    }
  });
}

// LayerNorm-LSTM (rnnkit/cells/lnlstm.py).  z (B, 4H) holds LN_ih(W_ih x) + b on entry and
// the activated gates on exit; ah (B, 4H) holds W_hh h on entry and its normalised form
// (before gamma/beta) on exit; rstd_h, rstd_c (B) the inverse deviations; nc (B, H) the
// normalised c'.  All of these are what the backward step needs.
void lnlstm_fwd_step(at::Tensor z, at::Tensor ah, at::Tensor gamma_h, at::Tensor beta_h,
                     at::Tensor gamma_c, at::Tensor beta_c, at::Tensor c_prev,
                     at::Tensor c_out, at::Tensor nc, at::Tensor rstd_h, at::Tensor rstd_c,
                     at::Tensor h_out, double eps) {
  const int64_t B = c_prev.size(0), H = c_prev.size(1), G = 4 * H;
  const char* fn = "lnlstm_fwd_step";
  const auto dt = rk::floating(z, fn, "z");
  rk::rank(c_prev, fn, "c_prev", 2);
  rk::expect(z, fn, "z", dt, {B, G});
  rk::expect(ah, fn, "ah", dt, {B, G});
  rk::expect(gamma_h, fn, "gamma_h", dt, {G});
  rk::expect(beta_h, fn, "beta_h", dt, {G});
  rk::expect(gamma_c, fn, "gamma_c", dt, {H});
  rk::expect(beta_c, fn, "beta_c", dt, {H});
  for (auto& [t, n] : {std::pair{c_prev, "c_prev"}, {c_out, "c_out"}, {nc, "nc"}, {h_out, "h_out"}})
    rk::expect(t, fn, n, dt, {B, H});
  rk::expect(rstd_h, fn, "rstd_h", dt, {B});
  rk::expect(rstd_c, fn, "rstd_c", dt, {B});
  AT_DISPATCH_FLOATING_TYPES(z.scalar_type(), "lnlstm_fwd_step", [&] {
    scalar_t* zp = z.data_ptr<scalar_t>();
    scalar_t* ap = ah.data_ptr<scalar_t>();
    const scalar_t* gh = gamma_h.data_ptr<scalar_t>();
    const scalar_t* bh = beta_h.data_ptr<scalar_t>();
    const scalar_t* gc = gamma_c.data_ptr<scalar_t>();
    const scalar_t* bc = beta_c.data_ptr<scalar_t>();
    const scalar_t* cp = c_prev.data_ptr<scalar_t>();
    scalar_t* co = c_out.data_ptr<scalar_t>();
    scalar_t* ncp = nc.data_ptr<scalar_t>();
    scalar_t* rh = rstd_h.data_ptr<scalar_t>();
    scalar_t* rc = rstd_c.data_ptr<scalar_t>();
    scalar_t* ho = h_out.data_ptr<scalar_t>();
    for (int64_t b = 0; b < B; ++b) {
      scalar_t* zr = zp + b * G;
      scalar_t* a = ap + b * G;
      scalar_t mean = 0, var = 0;
      _Pragma("omp simd reduction(+:mean)")
      for (int64_t j = 0; j < G; ++j) mean += a[j];
      mean /= G;
      _Pragma("omp simd reduction(+:var)")
      for (int64_t j = 0; j < G; ++j) var += (a[j] - mean) * (a[j] - mean);
      const scalar_t r = scalar_t(1) / std::sqrt(var / G + scalar_t(eps));
      rh[b] = r;
      _Pragma("omp simd")
      for (int64_t j = 0; j < G; ++j) {
        const scalar_t n = (a[j] - mean) * r;
        a[j] = n;
        zr[j] += gh[j] * n + bh[j];                                 // + LN_hh(W_hh h)
      }
      scalar_t* c = co + b * H;
      scalar_t cm = 0, cv = 0;
      _Pragma("omp simd reduction(+:cm)")
      for (int64_t j = 0; j < H; ++j) {
        scalar_t i = zr[j], f = zr[H + j], g = zr[2 * H + j], o = zr[3 * H + j];
        gates::lstm_gates(i, f, g, o);
        zr[j] = i; zr[H + j] = f; zr[2 * H + j] = g; zr[3 * H + j] = o;
        c[j] = gates::lstm_cell(i, f, g, cp[b * H + j]);
        cm += c[j];
      }
      cm /= H;
      _Pragma("omp simd reduction(+:cv)")
      for (int64_t j = 0; j < H; ++j) cv += (c[j] - cm) * (c[j] - cm);
      const scalar_t s = scalar_t(1) / std::sqrt(cv / H + scalar_t(eps));
      rc[b] = s;
      _Pragma("omp simd")
      for (int64_t j = 0; j < H; ++j) {
        const scalar_t n = (c[j] - cm) * s;
        ncp[b * H + j] = n;
        ho[b * H + j] = zr[3 * H + j] * std::tanh(gc[j] * n + bc[j]);   // h' = o tanh(LN_c(c'))
      }
    }
  });
}

// Backward of one LayerNorm-LSTM step.  dh, dc: gradients reaching h', c' (dc is overwritten
// with the gradient reaching c).  Writes dz (B, 4H), the gradient of z (= of LN_ih's output
// and of b), and dah (B, 4H), the gradient of W_hh h.  Adds this step's share of the
// LayerNorm parameter gradients into dgh, dbz (4H: gamma_hh, and every beta and b, which
// all receive sum(dz)), dgc, dbc (H: gamma_c, beta_c).
// LN backward: da = rstd * (dn - mean(dn) - n * mean(dn * n)), dn = gamma * d(output).
void lnlstm_bwd_step(at::Tensor gates, at::Tensor c_prev, at::Tensor nh, at::Tensor rstd_h,
                     at::Tensor nc, at::Tensor rstd_c, at::Tensor gamma_h, at::Tensor gamma_c,
                     at::Tensor beta_c, at::Tensor dh, at::Tensor dc, at::Tensor dz,
                     at::Tensor dah, at::Tensor dgh, at::Tensor dbz, at::Tensor dgc,
                     at::Tensor dbc) {
  const int64_t B = c_prev.size(0), H = c_prev.size(1), G = 4 * H;
  const char* fn = "lnlstm_bwd_step";
  const auto dt = rk::floating(gates, fn, "gates");
  rk::rank(c_prev, fn, "c_prev", 2);
  for (auto& [t, n] : {std::pair{gates, "gates"}, {nh, "nh"}, {dz, "dz"}, {dah, "dah"}})
    rk::expect(t, fn, n, dt, {B, G});
  for (auto& [t, n] : {std::pair{c_prev, "c_prev"}, {nc, "nc"}, {dh, "dh"}, {dc, "dc"}})
    rk::expect(t, fn, n, dt, {B, H});
  for (auto& [t, n] : {std::pair{gamma_h, "gamma_h"}, {dgh, "dgh"}, {dbz, "dbz"}})
    rk::expect(t, fn, n, dt, {G});
  for (auto& [t, n] : {std::pair{gamma_c, "gamma_c"}, {beta_c, "beta_c"}, {dgc, "dgc"}, {dbc, "dbc"}})
    rk::expect(t, fn, n, dt, {H});
  rk::expect(rstd_h, fn, "rstd_h", dt, {B});
  rk::expect(rstd_c, fn, "rstd_c", dt, {B});
  AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "lnlstm_bwd_step", [&] {
    const scalar_t* ap = gates.data_ptr<scalar_t>();
    const scalar_t* cp = c_prev.data_ptr<scalar_t>();
    const scalar_t* nhp = nh.data_ptr<scalar_t>();
    const scalar_t* rh = rstd_h.data_ptr<scalar_t>();
    const scalar_t* ncp = nc.data_ptr<scalar_t>();
    const scalar_t* rc = rstd_c.data_ptr<scalar_t>();
    const scalar_t* gh = gamma_h.data_ptr<scalar_t>();
    const scalar_t* gc = gamma_c.data_ptr<scalar_t>();
    const scalar_t* bc = beta_c.data_ptr<scalar_t>();
    const scalar_t* dhp = dh.data_ptr<scalar_t>();
    scalar_t* dcp = dc.data_ptr<scalar_t>();
    scalar_t* dzp = dz.data_ptr<scalar_t>();
    scalar_t* dap = dah.data_ptr<scalar_t>();
    scalar_t* agh = dgh.data_ptr<scalar_t>();
    scalar_t* abz = dbz.data_ptr<scalar_t>();
    scalar_t* agc = dgc.data_ptr<scalar_t>();
    scalar_t* abc = dbc.data_ptr<scalar_t>();
    for (int64_t b = 0; b < B; ++b) {
      const scalar_t* a = ap + b * G;
      const scalar_t* n = ncp + b * H;
      const scalar_t* g_ = dhp + b * H;
      scalar_t* d = dzp + b * G;
      scalar_t s1 = 0, s2 = 0;
      _Pragma("omp simd reduction(+:s1, s2)")
      for (int64_t j = 0; j < H; ++j) {
        const scalar_t th = std::tanh(gc[j] * n[j] + bc[j]);
        // h' = o tanh(LN_c(c')): dn is the gradient reaching LN_c(c')
        const scalar_t dn = gates::lstm_out_grad(a[3 * H + j], th, g_[j], d[3 * H + j]);
        agc[j] += dn * n[j];
        abc[j] += dn;
        d[2 * H + j] = dn * gc[j];                                  // parked until below
        s1 += d[2 * H + j]; s2 += d[2 * H + j] * n[j];
      }
      s1 /= H; s2 /= H;
      _Pragma("omp simd")
      for (int64_t j = 0; j < H; ++j) {
        const int64_t k = b * H + j;
        const scalar_t dct = dcp[k] + rc[b] * (d[2 * H + j] - s1 - n[j] * s2);
        dcp[k] = gates::lstm_cell_grad(a[j], a[H + j], a[2 * H + j], cp[k], dct, d[j],
                                       d[H + j], d[2 * H + j]);
      }
      const scalar_t* nr = nhp + b * G;
      scalar_t* da = dap + b * G;
      scalar_t t1 = 0, t2 = 0;
      _Pragma("omp simd reduction(+:t1, t2)")
      for (int64_t j = 0; j < G; ++j) {
        const scalar_t t = d[j] * gh[j];
        t1 += t; t2 += t * nr[j];
        agh[j] += d[j] * nr[j];
        abz[j] += d[j];
      }
      t1 /= G; t2 /= G;
      _Pragma("omp simd")
      for (int64_t j = 0; j < G; ++j) da[j] = rh[b] * (d[j] * gh[j] - t1 - nr[j] * t2);
    }
  });
}

// LayerNorm backward over the rows of d (N, G), in place: d holds the gradient of the
// LN's output on entry and that of its input on exit; n (N, G) the normalised rows, rstd (N).
// Adds sum(d_out * n) into dgamma (G).
void ln_bwd_rows(at::Tensor d, at::Tensor n, at::Tensor rstd, at::Tensor gamma,
                 at::Tensor dgamma) {
  const int64_t N = d.size(0), G = d.size(1);
  const char* fn = "ln_bwd_rows";
  const auto dt = rk::floating(d, fn, "d");
  rk::expect(n, fn, "n", dt, {N, G});
  rk::expect(rstd, fn, "rstd", dt, {N});
  rk::expect(gamma, fn, "gamma", dt, {G});
  rk::expect(dgamma, fn, "dgamma", dt, {G});
  AT_DISPATCH_FLOATING_TYPES(d.scalar_type(), "ln_bwd_rows", [&] {
    scalar_t* dp = d.data_ptr<scalar_t>();
    const scalar_t* np_ = n.data_ptr<scalar_t>();
    const scalar_t* rp = rstd.data_ptr<scalar_t>();
    const scalar_t* gp = gamma.data_ptr<scalar_t>();
    scalar_t* ag = dgamma.data_ptr<scalar_t>();
    for (int64_t r = 0; r < N; ++r) {
      scalar_t* dr = dp + r * G;
      const scalar_t* nr = np_ + r * G;
      scalar_t t1 = 0, t2 = 0;
      _Pragma("omp simd reduction(+:t1, t2)")
      for (int64_t j = 0; j < G; ++j) {
        const scalar_t t = dr[j] * gp[j];
        t1 += t; t2 += t * nr[j];
        ag[j] += dr[j] * nr[j];
      }
      t1 /= G; t2 /= G;
      _Pragma("omp simd")
      for (int64_t j = 0; j < G; ++j) dr[j] = rp[r] * (dr[j] * gp[j] - t1 - nr[j] * t2);
    }
  });
}

// ---------------------------------------------------------------------------------------
// Whole-sequence SimpleRNN for small H: the time loop itself runs here, with the recurrent
// product as plain loops (for H up to a few dozen a GEMM call costs more than the product).
// act: an ACT_* code (codes.py), element-wise.  zx (T, B, H) = W_ih x + b for every step;
// a (T, B, H) receives the pre-activations, hs (T+1, B, H) the states (hs[0] = h0 on entry).
// q (B, H) is the recurrent-dropout mask or empty; mask (T, B) bool or empty: a masked step
// keeps the state.
void simple_seq_fwd(at::Tensor zx, at::Tensor w_hh, at::Tensor q, at::Tensor mask,
                    int64_t act, at::Tensor a, at::Tensor hs) {
  const int64_t T = zx.size(0), B = zx.size(1), H = zx.size(2);
  const char* fn = "simple_seq_fwd";
  const auto dt = rk::floating(zx, fn, "zx");
  TORCH_CHECK(act >= 0 && act <= ACT_MAX, fn, ": act must be 0..", ACT_MAX, ", got ", act);
  rk::expect(zx, fn, "zx", dt, {T, B, H});
  rk::expect(w_hh, fn, "w_hh", dt, {H, H});
  rk::expect_opt(q, fn, "q", dt, {B, H});
  rk::expect_opt(mask, fn, "mask", at::kBool, {T, B});
  rk::expect(a, fn, "a", dt, {T, B, H});
  rk::expect(hs, fn, "hs", dt, {T + 1, B, H});
  const bool has_q = q.numel() > 0, has_m = mask.numel() > 0;
  const bool* mp = has_m ? mask.data_ptr<bool>() : nullptr;
  AT_DISPATCH_FLOATING_TYPES(zx.scalar_type(), "simple_seq_fwd", [&] {
    const scalar_t* xp = zx.data_ptr<scalar_t>();
    const scalar_t* w = w_hh.data_ptr<scalar_t>();
    const scalar_t* qp = has_q ? q.data_ptr<scalar_t>() : nullptr;
    scalar_t* ap = a.data_ptr<scalar_t>();
    scalar_t* hp = hs.data_ptr<scalar_t>();
    std::vector<scalar_t> hr(H);
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t b = 0; b < B; ++b) {
        const scalar_t* h = hp + (t * B + b) * H;
        scalar_t* hn = hp + ((t + 1) * B + b) * H;
        scalar_t* at_ = ap + (t * B + b) * H;
        const scalar_t* x = xp + (t * B + b) * H;
        for (int64_t k = 0; k < H; ++k) hr[k] = has_q ? h[k] * qp[b * H + k] : h[k];
        const bool keep = has_m && !mp[t * B + b];
        for (int64_t j = 0; j < H; ++j) {
          scalar_t s = x[j];
          const scalar_t* wr = w + j * H;
          for (int64_t k = 0; k < H; ++k) s += wr[k] * hr[k];        // (W_hh h)_j
          at_[j] = s;
          hn[j] = keep ? h[j] : gates::act(static_cast<int>(act), s);
        }
      }
    }
  });
}

// Backward of simple_seq_fwd.  dy (T, B, H) or empty: gradients of the outputs; dh (B, H):
// the gradient reaching h_T on entry, reaching h_0 on exit.  Writes dz (T, B, H), the
// gradient of every pre-activation (zeros at masked steps).
void simple_seq_bwd(at::Tensor a, at::Tensor hs, at::Tensor w_hh, at::Tensor q,
                    at::Tensor mask, int64_t act, at::Tensor dy, at::Tensor dh, at::Tensor dz) {
  const int64_t T = a.size(0), B = a.size(1), H = a.size(2);
  const char* fn = "simple_seq_bwd";
  const auto dt = rk::floating(a, fn, "a");
  TORCH_CHECK(act >= 0 && act <= ACT_MAX, fn, ": act must be 0..", ACT_MAX, ", got ", act);
  rk::expect(a, fn, "a", dt, {T, B, H});
  rk::expect(hs, fn, "hs", dt, {T + 1, B, H});
  rk::expect(w_hh, fn, "w_hh", dt, {H, H});
  rk::expect_opt(q, fn, "q", dt, {B, H});
  rk::expect_opt(mask, fn, "mask", at::kBool, {T, B});
  rk::expect_opt(dy, fn, "dy", dt, {T, B, H});
  rk::expect(dh, fn, "dh", dt, {B, H});
  rk::expect(dz, fn, "dz", dt, {T, B, H});
  const bool has_q = q.numel() > 0, has_m = mask.numel() > 0, has_dy = dy.numel() > 0;
  const bool* mp = has_m ? mask.data_ptr<bool>() : nullptr;
  AT_DISPATCH_FLOATING_TYPES(a.scalar_type(), "simple_seq_bwd", [&] {
    const scalar_t* ap = a.data_ptr<scalar_t>();
    const scalar_t* hp = hs.data_ptr<scalar_t>();
    const scalar_t* w = w_hh.data_ptr<scalar_t>();
    const scalar_t* qp = has_q ? q.data_ptr<scalar_t>() : nullptr;
    const scalar_t* dyp = has_dy ? dy.data_ptr<scalar_t>() : nullptr;
    scalar_t* g = dh.data_ptr<scalar_t>();
    scalar_t* dzp = dz.data_ptr<scalar_t>();
    for (int64_t t = T - 1; t >= 0; --t) {
      for (int64_t b = 0; b < B; ++b) {
        scalar_t* gb = g + b * H;
        scalar_t* d = dzp + (t * B + b) * H;
        if (has_m && !mp[t * B + b]) {                                // the state passed
          for (int64_t j = 0; j < H; ++j) d[j] = 0;
          continue;
        }
        const scalar_t* at_ = ap + (t * B + b) * H;
        const scalar_t* y = hp + ((t + 1) * B + b) * H;
        for (int64_t j = 0; j < H; ++j) {
          const scalar_t gj = gb[j] + (has_dy ? dyp[(t * B + b) * H + j] : scalar_t(0));
          d[j] = gj * gates::act_grad(static_cast<int>(act), at_[j], y[j]);
        }
        for (int64_t k = 0; k < H; ++k) {                               // (dz W_hh)_k
          scalar_t s = 0;
          for (int64_t j = 0; j < H; ++j) s += d[j] * w[j * H + k];
          gb[k] = has_q ? s * qp[b * H + k] : s;
        }
      }
    }
  });
}
