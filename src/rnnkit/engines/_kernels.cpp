// rnnkit fused engine: the elementwise gate arithmetic of one time step, forward and
// backward, in one pass over (B, H).  The time loop and every GEMM stay in PyTorch
// (rnnkit/engines/fused.py); these functions replace the dozen small tensor ops per step
// whose dispatch cost dominates small RNNs.  The equations are those of rnnkit/cells.
// Built with -O3 -ffast-math -march=native so that the loops below vectorise and call
// glibc's vector exp/tanh (libmvec); the build is cached per CPU model (rnnkit/engines/_ext.py).
#include <torch/extension.h>
#include <cmath>

template <typename T> static inline T sigm(T x) { return T(1) / (T(1) + std::exp(-x)); }

// z (B, 4H): pre-activations in, activated gates i, f, g, o out (in place).
void lstm_fwd_step(at::Tensor z, at::Tensor c_prev, at::Tensor c_out, at::Tensor h_out) {
  const int64_t B = c_prev.size(0), H = c_prev.size(1);
  AT_DISPATCH_FLOATING_TYPES(z.scalar_type(), "lstm_fwd_step", [&] {
    scalar_t* zp = z.data_ptr<scalar_t>();
    const scalar_t* cp = c_prev.data_ptr<scalar_t>();
    scalar_t* co = c_out.data_ptr<scalar_t>();
    scalar_t* ho = h_out.data_ptr<scalar_t>();
    for (int64_t b = 0; b < B; ++b) {
      scalar_t* zr = zp + b * 4 * H;
      _Pragma("omp simd")
      for (int64_t j = 0; j < H; ++j) {
        const scalar_t i = sigm(zr[j]), f = sigm(zr[H + j]);
        const scalar_t g = std::tanh(zr[2 * H + j]), o = sigm(zr[3 * H + j]);
        zr[j] = i; zr[H + j] = f; zr[2 * H + j] = g; zr[3 * H + j] = o;
        const scalar_t c = f * cp[b * H + j] + i * g;              // c' = f c + i g
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
        const scalar_t tc = std::tanh(f * cp[k] + i * g);
        const scalar_t dct = dcp[k] + dhp[k] * o * (1 - tc * tc);   // through h' = o tanh(c')
        d[j] = dct * g * i * (1 - i);                               // sigmoid' = s (1 - s)
        d[H + j] = dct * cp[k] * f * (1 - f);
        d[2 * H + j] = dct * i * (1 - g * g);                       // tanh' = 1 - t^2
        d[3 * H + j] = dhp[k] * tc * o * (1 - o);
        dcop[k] = dct * f;
      }
    }
  });
}

// GRU, reset_after=True.  zx (B, 3H) = W_ih x + b_ih, zh (B, 3H) = W_hh h + b_hh.
// Writes gates r, z, n (B, 3H) and h'.
void gru_fwd_step(at::Tensor zx, at::Tensor zh, at::Tensor h_prev, at::Tensor gates,
                  at::Tensor h_out) {
  const int64_t B = h_prev.size(0), H = h_prev.size(1);
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
        const scalar_t r = sigm(x[j] + h[j]);
        const scalar_t z = sigm(x[H + j] + h[H + j]);
        const scalar_t n = std::tanh(x[2 * H + j] + r * h[2 * H + j]);
        a[j] = r; a[H + j] = z; a[2 * H + j] = n;
        const scalar_t hp = hprev[b * H + j];
        ho[b * H + j] = n + z * (hp - n);                           // (1 - z) n + z h
      }
    }
  });
}

// dh: gradient reaching h'.  hn (B, H) = W_hn h + b_hn.  Writes dzx (B, 3H) for the input
// side, dzh (B, 3H) for the recurrent side, and dh_direct = dh * z (the z h path).
void gru_bwd_step(at::Tensor gates, at::Tensor zh, at::Tensor h_prev, at::Tensor dh,
                  at::Tensor dzx, at::Tensor dzh, at::Tensor dh_direct) {
  const int64_t B = h_prev.size(0), H = h_prev.size(1);
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
        const scalar_t r = a[j], z = a[H + j], n = a[2 * H + j], g = dhp[k];
        const scalar_t dan = g * (1 - z) * (1 - n * n);             // through n = tanh(...)
        const scalar_t dz = g * (hprev[k] - n) * z * (1 - z);
        const scalar_t dr = dan * zhp[b * 3 * H + 2 * H + j] * r * (1 - r);
        dx[j] = dr; dx[H + j] = dz; dx[2 * H + j] = dan;
        dhh[j] = dr; dhh[H + j] = dz; dhh[2 * H + j] = dan * r;      // r * (W_hn h + b_hn)
        ddp[k] = g * z;
      }
    }
  });
}
