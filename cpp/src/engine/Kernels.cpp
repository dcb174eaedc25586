// Vectorized inner kernels (Kernels.h). This is the only engine file compiled with the SIMD flags
// (GAQMD_ENGINE_AVX2: -mavx2 -mfma); without them it uses SSE2 vectors and separate multiply/add.
// Fused multiply-adds appear only where written (vfma), never by contraction (-ffp-contract=off).

#include "gaqmd/engine/Kernels.h"

#include <algorithm>
#include <cstring>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define GAQMD_KERNEL_AVX2 1
#endif

namespace gaqmd {
namespace {

#ifdef GAQMD_KERNEL_AVX2
constexpr int kVec = 4;
constexpr int kMR = 6, kNR = 2;  // 12 accumulators + 2 loads + 1 broadcast of 16 ymm registers
typedef double vd __attribute__((vector_size(32)));
inline vd vfma(vd a, vd b, vd c) { return _mm256_fmadd_pd(a, b, c); }
#else
constexpr int kVec = 2;
constexpr int kMR = 4, kNR = 2;
typedef double vd __attribute__((vector_size(16)));
inline vd vfma(vd a, vd b, vd c) { return a * b + c; }
#endif
static_assert(kColumnPad % (kVec * kNR) == 0, "GEMM column block must divide kColumnPad");
static_assert(kChannelPad % kVec == 0, "vector width must divide kChannelPad");

inline vd vload(const double* p) {
  vd v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void vstore(double* p, vd v) { std::memcpy(p, &v, sizeof v); }
inline vd vset(double x) {
  vd v;
  for (int k = 0; k < kVec; ++k) v[k] = x;
  return v;
}
inline vd vzero() { return vset(0.0); }
/// Lanes summed in order 0, 1, ...
inline double hsum(vd v) {
  double s = v[0];
  for (int k = 1; k < kVec; ++k) s += v[k];
  return s;
}

template <int MR>
inline void microKernel(const double* panel, int K, const double* X, int ldx, double* Y, int ldy, int rows) {
  vd acc[MR][kNR];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < kNR; ++j) acc[r][j] = vzero();
  for (int c = 0; c < K; ++c) {
    vd x[kNR];
#pragma GCC unroll 4
    for (int j = 0; j < kNR; ++j) x[j] = vload(X + static_cast<size_t>(c) * ldx + j * kVec);
    const double* a = panel + static_cast<size_t>(c) * MR;
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const vd ar = vset(a[r]);
#pragma GCC unroll 4
      for (int j = 0; j < kNR; ++j) acc[r][j] = vfma(ar, x[j], acc[r][j]);
    }
  }
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < kNR; ++j) vstore(Y + static_cast<size_t>(r) * ldy + j * kVec, acc[r][j]);
}

constexpr int kMaxD = 5;  // 2 l + 1 for l <= 2

}  // namespace

const char* kernelIsa() {
#ifdef GAQMD_KERNEL_AVX2
  return "avx2+fma";
#else
  return "sse2";
#endif
}

bool kernelIsaSupported() {
#ifdef GAQMD_KERNEL_AVX2
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return true;
#endif
}

void packMatrix(const double* a, int rows, int cols, PackedMatrix& out) {
  out.rows = rows;
  out.cols = cols;
  const int panels = (rows + kMR - 1) / kMR;
  out.panels.assign(static_cast<size_t>(panels) * kMR * cols, 0.0);
  for (int q = 0; q < panels; ++q)
    for (int c = 0; c < cols; ++c)
      for (int r = 0; r < kMR; ++r) {
        const int row = q * kMR + r;
        if (row < rows)
          out.panels[(static_cast<size_t>(q) * cols + c) * kMR + r] = a[static_cast<size_t>(row) * cols + c];
      }
}

void gemm(const PackedMatrix& A, const double* X, int ldx, int N, double* Y, int ldy) {
  const int panels = (A.rows + kMR - 1) / kMR;
  for (int q = 0; q < panels; ++q) {
    const double* panel = A.panels.data() + static_cast<size_t>(q) * A.cols * kMR;
    const int rows = std::min(kMR, A.rows - q * kMR);
    double* Yq = Y + static_cast<size_t>(q) * kMR * ldy;
    for (int j = 0; j < N; j += kVec * kNR) microKernel<kMR>(panel, A.cols, X + j, ldx, Yq + j, ldy, rows);
  }
}

void hermiteSegment(const double* coeffs, int n, double t, double invH, double* w, double* dw) {
  const double* c0 = coeffs;
  const double* c1 = coeffs + n;
  const double* c2 = coeffs + 2 * n;
  const double* c3 = coeffs + 3 * n;
  const vd tv = vset(t), t3 = vset(3.0 * t), ih = vset(invH);
  int k = 0;
  for (; k + kVec <= n; k += kVec) {
    const vd a1 = vload(c1 + k), a2 = vload(c2 + k), a3 = vload(c3 + k);
    vstore(w + k, vfma(tv, vfma(tv, vfma(tv, a3, a2), a1), vload(c0 + k)));
    vstore(dw + k, vfma(tv, vfma(t3, a3, a2 + a2), a1) * ih);
  }
  for (; k < n; ++k) {
    w[k] = c0[k] + t * (c1[k] + t * (c2[k] + t * c3[k]));
    dw[k] = (c1[k] + t * (2.0 * c2[k] + 3.0 * t * c3[k])) * invH;
  }
}

void tpForwardEdge(const std::vector<TpPlan>& plans, int Cp, const double* xT, const double* Y, const double* w,
                   double c, double* MT) {
  const vd cv = vset(c);
  for (size_t p = 0; p < plans.size(); ++p) {
    const TpPlan& P = plans[p];
    double cy[kMaxD * kMaxD] = {};
    for (const TpTerm& t : P.terms) cy[t.a * P.d3 + t.k] += t.coef * Y[P.shOffset + t.b];
    const double* x = xT + P.inOffsetT;
    double* M = MT + P.midOffsetT;
    const double* wp = w + p * Cp;
    for (int u = 0; u < Cp; u += kVec) {
      const vd cw = cv * vload(wp + u);
      for (int k = 0; k < P.d3; ++k) {
        vd acc = vzero();
        for (int e = P.kStart[k]; e < P.kStart[k + 1]; ++e)
          acc = vfma(vset(cy[P.akA[e] * P.d3 + k]), vload(x + P.akA[e] * Cp + u), acc);
        double* m = M + k * Cp + u;
        vstore(m, vfma(cw, acc, vload(m)));
      }
    }
  }
}

void tpBackwardEdge(const std::vector<TpPlan>& plans, int Cp, const double* xT, const double* Y, const double* w,
                    const double* dw, double c, const double* GT, double* gxT, double* gY, double* radial,
                    double* alphaDot) {
  const vd cv = vset(c);
  vd accAlpha = vzero(), accRadial = vzero();
  for (size_t p = 0; p < plans.size(); ++p) {
    const TpPlan& P = plans[p];
    double cy[kMaxD * kMaxD] = {};
    for (const TpTerm& t : P.terms) cy[t.a * P.d3 + t.k] += t.coef * Y[P.shOffset + t.b];
    const int numAk = static_cast<int>(P.akA.size());
    vd S[kMaxD * kMaxD];
    for (int e = 0; e < numAk; ++e) S[e] = vzero();
    const double* x = xT + P.inOffsetT;
    const double* G = GT + P.midOffsetT;
    const double* wp = w + p * Cp;
    const double* dwp = dw ? dw + p * Cp : nullptr;
    double* gx = gxT ? gxT + P.inOffsetT : nullptr;
    for (int u = 0; u < Cp; u += kVec) {
      vd g[kMaxD], xv[kMaxD];
      for (int k = 0; k < P.d3; ++k) g[k] = vload(G + k * Cp + u);
      for (int a = 0; a < P.d1; ++a) xv[a] = vload(x + a * Cp + u);
      const vd wv = vload(wp + u);
      vd gw = vzero();  // Σ_k G[k] T[k], T[k] = Σ_a cy[a, k] x[a]
      for (int k = 0; k < P.d3; ++k) {
        vd T = vzero();
        for (int e = P.kStart[k]; e < P.kStart[k + 1]; ++e) T = vfma(vset(cy[P.akA[e] * P.d3 + k]), xv[P.akA[e]], T);
        gw = vfma(g[k], T, gw);
      }
      if (alphaDot) accAlpha = vfma(wv, gw, accAlpha);
      if (dwp) accRadial = vfma(vload(dwp + u), gw, accRadial);
      if (gx) {
        const vd cw = cv * wv;
        for (int a = 0; a < P.d1; ++a) {
          vd acc = vzero();
          for (int q = P.aStart[a]; q < P.aStart[a + 1]; ++q) {
            const int e = P.byA[q];
            acc = vfma(vset(cy[a * P.d3 + P.akK[e]]), g[P.akK[e]], acc);
          }
          double* out = gx + a * Cp + u;
          vstore(out, vfma(cw, acc, vload(out)));
        }
      }
      if (gY)
        for (int e = 0; e < numAk; ++e) S[e] = vfma(wv * xv[P.akA[e]], g[P.akK[e]], S[e]);
    }
    if (gY) {
      double s[kMaxD * kMaxD];
      for (int e = 0; e < numAk; ++e) s[e] = hsum(S[e]);
      for (size_t t = 0; t < P.terms.size(); ++t)
        gY[P.shOffset + P.terms[t].b] += c * (P.terms[t].coef * s[P.termAk[t]]);
    }
  }
  if (radial) *radial = c * hsum(accRadial);
  if (alphaDot) *alphaDot = hsum(accAlpha);
}

}  // namespace gaqmd
