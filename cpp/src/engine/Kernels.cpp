// Vectorized inner kernels (Kernels.h). This is the only engine file compiled with the SIMD flags
// (GAQMD_ENGINE_AVX2: -mavx2 -mfma); without them it uses SSE2 vectors and separate multiply/add.
// Fused multiply-adds appear only where written (vfma), never by contraction (-ffp-contract=off).

#include "gaqmd/engine/Kernels.h"

#include <algorithm>
#include <cstring>

#if defined(__AVX512F__) && defined(GAQMD_KERNEL_WANT_AVX512)
#include <immintrin.h>
#define GAQMD_KERNEL_AVX512 1
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define GAQMD_KERNEL_AVX2 1
#endif

namespace gaqmd {
namespace {

#if defined(GAQMD_KERNEL_AVX512)
constexpr int kVec = 8;
constexpr int kMR = 8, kNR = 2;  // 16 accumulators of 32 zmm registers
typedef double vd __attribute__((vector_size(64)));
inline vd vfma(vd a, vd b, vd c) { return _mm512_fmadd_pd(a, b, c); }
#elif defined(GAQMD_KERNEL_AVX2)
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
/// The scalar lane of vfma: fused where vfma is.
inline double scalarFma(double a, double b, double c) {
#if defined(GAQMD_KERNEL_AVX512) || defined(GAQMD_KERNEL_AVX2)
  return __builtin_fma(a, b, c);
#else
  return a * b + c;
#endif
}
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
#if defined(GAQMD_KERNEL_AVX512)
  return "avx512f";
#elif defined(GAQMD_KERNEL_AVX2)
  return "avx2+fma";
#else
  return "sse2";
#endif
}

bool kernelIsaSupported() {
#if defined(GAQMD_KERNEL_AVX512)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
#elif defined(GAQMD_KERNEL_AVX2)
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

namespace {

/// exp(x) lane-wise for x <= 0 (what the sigmoid needs: x = -|z|); exp(x) = 2^n exp(r),
/// n = rne(x / ln 2), r = x - n ln2 (two-part ln 2, exact products with fma), exp(r) by Taylor to
/// degree 13 (|r| <= 0.347: truncation < 1e-17 relative). x < -745 gives 0, as libm (underflow).
inline vd expNonPositive(vd x) {
  const vd lo = vset(-745.2);
  x = x < lo ? lo : x;
  const vd shift = vset(6755399441055744.0);  // 1.5 · 2^52: rne of |values| < 2^51
  const vd n = (x * vset(1.4426950408889634) + shift) - shift;
  const vd ln2Hi = vset(6.93147180369123816490e-01), ln2Lo = vset(1.90821492927058770002e-10);
  const vd r = vfma(-n, ln2Lo, vfma(-n, ln2Hi, x));
  static constexpr double c[14] = {1.0,
                                   1.0,
                                   1.0 / 2,
                                   1.0 / 6,
                                   1.0 / 24,
                                   1.0 / 120,
                                   1.0 / 720,
                                   1.0 / 5040,
                                   1.0 / 40320,
                                   1.0 / 362880,
                                   1.0 / 3628800,
                                   1.0 / 39916800,
                                   1.0 / 479001600,
                                   1.0 / 6227020800};
  vd p = vset(c[13]);
  for (int k = 12; k >= 0; --k) p = vfma(p, r, vset(c[k]));
  // 2^n in two factors (n down to -1075 does not fit one exponent field): 2^(n1) 2^(n - n1).
  // An integer m with |m| < 2^51 is the low bits of m + 1.5·2^52: bits(m + shift) - bits(shift).
  typedef long long vl __attribute__((vector_size(sizeof(vd))));
  const vd n1 = (n * vset(0.5) + shift) - shift;  // ~n/2, exact integer
  const vd n2 = n - n1;
  vl i1, i2, is;
  const vd a1 = n1 + shift, a2 = n2 + shift;
  std::memcpy(&i1, &a1, sizeof i1);
  std::memcpy(&i2, &a2, sizeof i2);
  std::memcpy(&is, &shift, sizeof is);
  const vl e1 = (i1 - is + 1023) << 52, e2 = (i2 - is + 1023) << 52;
  vd s1, s2;
  std::memcpy(&s1, &e1, sizeof s1);
  std::memcpy(&s2, &e2, sizeof s2);
  return (p * s1) * s2;
}

}  // namespace

namespace {

template <bool SILU>
void activateRows(double* Y, int rows, int ld, int width, const double* scale, double qmin, double qmax,
                  bool clipped) {
  const vd one = vset(1.0), zero = vzero(), qlo = vset(qmin), qhi = vset(qmax);
  const vd shift = vset(6755399441055744.0), big = vset(2251799813685248.0);
  for (int h = 0; h < rows; ++h) {
    double* v = Y + static_cast<size_t>(h) * ld;
    double* t = v + width;
    for (int b = 0; b < width; b += kVec) {
      vd value = vload(v + b), tangent = vload(t + b);
      if (SILU) {
        const vd z = value;
        const vd e = expNonPositive(z < zero ? z : -z);            // exp(-|z|)
        const vd s = z >= zero ? one / (one + e) : e / (one + e);  // math::sigmoid
        value = z * s;                                             // math::silu
        tangent = tangent * (s * (one + z * (one - s)));           // math::siluGrad
      }
      if (scale) {
        const vd sc = vset(scale[h]);
        const vd w = value / sc;
        const vd mask = ((w >= qlo) & (w <= qhi)) ? one : zero;
        const vd aw = w < zero ? -w : w;
        const vd rounded = aw < big ? ((aw + shift) - shift) : aw;  // rne(|w|), math::roundHalfEven
        typedef long long vl __attribute__((vector_size(sizeof(vd))));
        vl rb, wb;
        std::memcpy(&rb, &rounded, sizeof rb);
        std::memcpy(&wb, &w, sizeof wb);
        const vl qb = rb | (wb & static_cast<long long>(0x8000000000000000ULL));  // copysign(rounded, w)
        vd q;
        std::memcpy(&q, &qb, sizeof q);
        q = q < qlo ? qlo : (q > qhi ? qhi : q);
        value = q * sc;
        if (clipped) tangent = tangent * mask;
      }
      vstore(v + b, value);
      vstore(t + b, tangent);
    }
  }
}

}  // namespace

void radialActivate(double* Y, int rows, int ld, int width, const double* scale, double qmin, double qmax,
                    bool clipped) {
  activateRows<true>(Y, rows, ld, width, scale, qmin, qmax, clipped);
}

void radialQuantize(double* Y, int rows, int ld, int width, const double* scale, double qmin, double qmax,
                    bool clipped) {
  activateRows<false>(Y, rows, ld, width, scale, qmin, qmax, clipped);
}

void jacobianApply(const double* J, int K, int n, const double* t, double* y) {
  int r = 0;
  for (; r + kVec <= n; r += kVec) {
    vd acc = vzero();
    for (int k = 0; k < K; ++k) acc = vfma(vset(t[k]), vload(J + static_cast<size_t>(k) * n + r), acc);
    vstore(y + r, acc);
  }
  for (; r < n; ++r) {
    double acc = 0.0;
    for (int k = 0; k < K; ++k) acc = scalarFma(t[k], J[static_cast<size_t>(k) * n + r], acc);
    y[r] = acc;
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

namespace {

/// cy[a d3 + k] = Σ_b cg[a, b, k] Y_b of one path (zeros elsewhere).
inline void pathCy(const TpPlan& P, const double* Y, double* cy) {
  for (int k = 0; k < P.d1 * P.d3; ++k) cy[k] = 0.0;
  for (const TpTerm& t : P.terms) cy[t.a * P.d3 + t.k] += t.coef * Y[P.shOffset + t.b];
}

/// Path kernels with the block sizes known at compile time: cy dense (its structural zeros add
/// fma(0, x, acc) = acc exactly, so they give the sparse order's results); DIAG: only a = k.
template <int D1, int D3, bool DIAG>
void pathForward(const double* cy, int Cp, const double* x, const double* wp, vd cv, double* M) {
  vd cyv[D1 * D3];
  for (int i = 0; i < D1 * D3; ++i) cyv[i] = vset(cy[i]);
  for (int u = 0; u < Cp; u += kVec) {
    vd xv[D1];
    for (int a = 0; a < D1; ++a) xv[a] = vload(x + a * Cp + u);
    const vd cw = cv * vload(wp + u);
    for (int k = 0; k < D3; ++k) {
      vd acc;
      if (DIAG) {
        acc = cyv[k * D3 + k] * xv[k];
      } else {
        acc = cyv[k] * xv[0];
        for (int a = 1; a < D1; ++a) acc = vfma(cyv[a * D3 + k], xv[a], acc);
      }
      double* m = M + k * Cp + u;
      vstore(m, vfma(cw, acc, vload(m)));
    }
  }
}

template <int D1, int D3, bool DIAG>
void pathBackward(const TpPlan& P, const double* cy, int Cp, const double* x, const double* G, const double* wp,
                  const double* dwp, vd cv, double* gx, double* gY, double c, vd& accAlpha, vd& accRadial,
                  bool wantAlpha) {
  vd cyv[D1 * D3], S[D1 * D3];
  for (int i = 0; i < D1 * D3; ++i) cyv[i] = vset(cy[i]), S[i] = vzero();
  for (int u = 0; u < Cp; u += kVec) {
    vd g[D3], xv[D1];
    for (int k = 0; k < D3; ++k) g[k] = vload(G + k * Cp + u);
    for (int a = 0; a < D1; ++a) xv[a] = vload(x + a * Cp + u);
    const vd wv = vload(wp + u);
    vd gw;  // Σ_k g[k] T[k], T[k] = Σ_a cy[a, k] x[a]
    for (int k = 0; k < D3; ++k) {
      vd T;
      if (DIAG) {
        T = cyv[k * D3 + k] * xv[k];
      } else {
        T = cyv[k] * xv[0];
        for (int a = 1; a < D1; ++a) T = vfma(cyv[a * D3 + k], xv[a], T);
      }
      gw = k == 0 ? g[0] * T : vfma(g[k], T, gw);
    }
    if (wantAlpha) accAlpha = vfma(wv, gw, accAlpha);
    if (dwp) accRadial = vfma(vload(dwp + u), gw, accRadial);
    if (gx) {
      const vd cw = cv * wv;
      for (int a = 0; a < D1; ++a) {
        vd acc;
        if (DIAG) {
          acc = cyv[a * D3 + a] * g[a];
        } else {
          acc = cyv[a * D3] * g[0];
          for (int k = 1; k < D3; ++k) acc = vfma(cyv[a * D3 + k], g[k], acc);
        }
        double* out = gx + a * Cp + u;
        vstore(out, vfma(cw, acc, vload(out)));
      }
    }
    if (gY)
      for (int a = 0; a < D1; ++a) {
        const vd wx = wv * xv[a];
        for (int k = 0; k < D3; ++k)
          if (!DIAG || a == k) S[a * D3 + k] = vfma(wx, g[k], S[a * D3 + k]);
      }
  }
  if (gY)
    for (const TpTerm& t : P.terms) gY[P.shOffset + t.b] += c * (t.coef * hsum(S[t.a * D3 + t.k]));
}

/// Generic path (any sizes), sparse lists of the plan.
void pathForwardGeneric(const TpPlan& P, const double* cy, int Cp, const double* x, const double* wp, vd cv,
                        double* M) {
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

void pathBackwardGeneric(const TpPlan& P, const double* cy, int Cp, const double* x, const double* G,
                         const double* wp, const double* dwp, vd cv, double* gx, double* gY, double c, vd& accAlpha,
                         vd& accRadial, bool wantAlpha) {
  const int numAk = static_cast<int>(P.akA.size());
  vd S[kMaxD * kMaxD];
  for (int e = 0; e < numAk; ++e) S[e] = vzero();
  for (int u = 0; u < Cp; u += kVec) {
    vd g[kMaxD], xv[kMaxD];
    for (int k = 0; k < P.d3; ++k) g[k] = vload(G + k * Cp + u);
    for (int a = 0; a < P.d1; ++a) xv[a] = vload(x + a * Cp + u);
    const vd wv = vload(wp + u);
    vd gw = vzero();
    for (int k = 0; k < P.d3; ++k) {
      vd T = vzero();
      for (int e = P.kStart[k]; e < P.kStart[k + 1]; ++e) T = vfma(vset(cy[P.akA[e] * P.d3 + k]), xv[P.akA[e]], T);
      gw = vfma(g[k], T, gw);
    }
    if (wantAlpha) accAlpha = vfma(wv, gw, accAlpha);
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
  if (gY)
    for (size_t t = 0; t < P.terms.size(); ++t)
      gY[P.shOffset + P.terms[t].b] += c * (P.terms[t].coef * hsum(S[P.termAk[t]]));
}

/// Whether the plan's structurally nonzero cy entries are all on the diagonal a = k (d1 = d3).
bool diagonal(const TpPlan& P) {
  if (P.d1 != P.d3) return false;
  for (const TpTerm& t : P.terms)
    if (t.a != t.k) return false;
  return true;
}

}  // namespace

int tpKernelKind(const TpPlan& P) {
  const bool diag = diagonal(P);
  if (P.d1 == 1 && P.d3 == 1) return 1;
  if (P.d1 == 1 && P.d3 == 3) return 2;
  if (P.d1 == 3 && P.d3 == 1) return 3;
  if (P.d1 == 3 && P.d3 == 3) return diag ? 4 : 5;
  return 0;
}

void tpForwardEdge(const std::vector<TpPlan>& plans, int Cp, const double* xT, const double* Y, const double* w,
                   double c, double* MT) {
  const vd cv = vset(c);
  for (size_t p = 0; p < plans.size(); ++p) {
    const TpPlan& P = plans[p];
    double cy[kMaxD * kMaxD];
    pathCy(P, Y, cy);
    const double* x = xT + P.inOffsetT;
    double* M = MT + P.midOffsetT;
    const double* wp = w + p * Cp;
    switch (P.kernel) {
      case 1: pathForward<1, 1, false>(cy, Cp, x, wp, cv, M); break;
      case 2: pathForward<1, 3, false>(cy, Cp, x, wp, cv, M); break;
      case 3: pathForward<3, 1, false>(cy, Cp, x, wp, cv, M); break;
      case 4: pathForward<3, 3, true>(cy, Cp, x, wp, cv, M); break;
      case 5: pathForward<3, 3, false>(cy, Cp, x, wp, cv, M); break;
      default: pathForwardGeneric(P, cy, Cp, x, wp, cv, M);
    }
  }
}

void tpBackwardEdge(const std::vector<TpPlan>& plans, int Cp, const double* xT, const double* Y, const double* w,
                    const double* dw, double c, const double* GT, double* gxT, double* gY, double* radial,
                    double* alphaDot) {
  const vd cv = vset(c);
  vd accAlpha = vzero(), accRadial = vzero();
  const bool wantAlpha = alphaDot != nullptr;
  for (size_t p = 0; p < plans.size(); ++p) {
    const TpPlan& P = plans[p];
    double cy[kMaxD * kMaxD];
    pathCy(P, Y, cy);
    const double* x = xT + P.inOffsetT;
    const double* G = GT + P.midOffsetT;
    const double* wp = w + p * Cp;
    const double* dwp = dw ? dw + p * Cp : nullptr;
    double* gx = gxT ? gxT + P.inOffsetT : nullptr;
    switch (P.kernel) {
      case 1: pathBackward<1, 1, false>(P, cy, Cp, x, G, wp, dwp, cv, gx, gY, c, accAlpha, accRadial, wantAlpha); break;
      case 2: pathBackward<1, 3, false>(P, cy, Cp, x, G, wp, dwp, cv, gx, gY, c, accAlpha, accRadial, wantAlpha); break;
      case 3: pathBackward<3, 1, false>(P, cy, Cp, x, G, wp, dwp, cv, gx, gY, c, accAlpha, accRadial, wantAlpha); break;
      case 4: pathBackward<3, 3, true>(P, cy, Cp, x, G, wp, dwp, cv, gx, gY, c, accAlpha, accRadial, wantAlpha); break;
      case 5: pathBackward<3, 3, false>(P, cy, Cp, x, G, wp, dwp, cv, gx, gY, c, accAlpha, accRadial, wantAlpha); break;
      default: pathBackwardGeneric(P, cy, Cp, x, G, wp, dwp, cv, gx, gY, c, accAlpha, accRadial, wantAlpha);
    }
  }
  if (radial) *radial = c * hsum(accRadial);
  if (alphaDot) *alphaDot = hsum(accAlpha);
}

}  // namespace gaqmd
