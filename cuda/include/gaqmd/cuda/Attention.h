#pragma once
// Per-thread work of the attention option (docs/format.md, "Attention"): α_ij = f(d_ij) exp(a_ij) /
// (Σ_k f(d_ik) exp(a_ik) + 1e-30), a_ij = τ n(W_q s_i)·n(W_k s_j + W_r ê_ij), and its backward.

#include "gaqmd/cuda/Quant.h"
#include "gaqmd/cuda/Weights.h"

namespace gaqmd::cuda {

constexpr double kNormEps = 1e-12;       // n(v) = v / sqrt(|v|² + eps)
constexpr double kDenominatorEps = 1e-30;

/// 1 / sqrt(|v|² + eps), squares summed in order.
template <typename Real>
GAQMD_HD inline double inverseNorm(const Real* v, int n) {
  double sq = 0;
  for (int k = 0; k < n; ++k) sq += static_cast<double>(v[k]) * v[k];
  return 1.0 / sqrt(sq + kNormEps);
}

/// v -> n(v): g_v = r g_n - r³ v (v·g_n), r = 1 / sqrt(|v|² + eps).
template <typename Real>
GAQMD_HD inline void normBackward(const Real* v, const double* gn, int n, double* gv) {
  double sq = 0, vg = 0;
  for (int k = 0; k < n; ++k) sq += static_cast<double>(v[k]) * v[k], vg += v[k] * gn[k];
  const double r = 1.0 / sqrt(sq + kNormEps);
  for (int k = 0; k < n; ++k) gv[k] = r * gn[k] - r * r * r * v[k] * vg;
}

/// Thread (i, a): Q[i][a] = (W_q s_i)_a and Ks[i][a] = (W_k s_i)_a, s_i the first C entries of x_up.
template <typename Real>
GAQMD_HD inline void attentionNode(int item, const Params<Real>& P, int t, LayerBuffers<Real> B) {
  const LayerRef& L = P.layers[t];
  const int A = L.query.rows, i = item / A, a = item % A;
  B.Q[item] = rowDot(P, L.query, a, B.xu + i * L.in.dim);
  B.Ks[item] = rowDot(P, L.key, a, B.xu + i * L.in.dim);
}

/// The key's radial input ê of edge e (the Bessel basis; LSQ keyRadialIn in w4a8), masks optional.
template <typename Real>
GAQMD_HD inline void keyRadialInput(const Params<Real>& P, const LayerRef& L, EdgeGeometry<Real> geo, int e, Real* input,
                                    double* mask) {
  for (int k = 0; k < P.numBasis; ++k) {
    double m;
    input[k] = static_cast<Real>(lsqValue(P, L.keyRadialIn, k, geo.bessel[e * P.numBasis + k], &m));
    if (mask) mask[k] = m;
  }
}

/// Thread e = (i, j): Kraw_e = Ks_j + W_r ê_e, expA_e = exp(τ n(Q_i)·n(Kraw_e)), and the unnormalized
/// weight f(d_e) expA_e in alpha_e (attentionNormalize divides it).
template <typename Real>
GAQMD_HD inline void attentionEdge(int e, const Params<Real>& P, int t, Edges<Real> edges, EdgeGeometry<Real> geo,
                                   LayerBuffers<Real> B) {
  const int i = rowOf(e, edges.capacity);
  if (slotOf(e, edges.capacity) >= edges.count[i]) return;
  const LayerRef& L = P.layers[t];
  const int A = L.query.rows, j = edges.neighbour[e];
  Real input[GAQ_MAX_BASIS];
  keyRadialInput(P, L, geo, e, input, nullptr);
  Real* K = B.Kraw + e * A;
  for (int a = 0; a < A; ++a) K[a] = B.Ks[j * A + a] + rowDot(P, L.keyRadial, a, input);
  const Real* Q = B.Q + i * A;
  const double rq = inverseNorm(Q, A), rk = inverseNorm(K, A);
  double qk = 0;
  for (int a = 0; a < A; ++a) qk += (Q[a] * rq) * (K[a] * rk);
  const double expA = exp(L.temperature * qk);
  B.expA[e] = static_cast<Real>(expA);
  B.alpha[e] = static_cast<Real>(geo.env[e] * expA);
}

/// Thread i: Z_i = Σ_row f expA + 1e-30, α_e = f expA / Z_i over its row.
template <typename Real>
GAQMD_HD inline void attentionNormalize(int i, Edges<Real> edges, LayerBuffers<Real> B) {
  double Z = 0;
  for (int k = 0; k < edges.count[i]; ++k) Z += B.alpha[i * edges.capacity + k];
  Z += kDenominatorEps;
  B.Z[i] = static_cast<Real>(Z);
  for (int k = 0; k < edges.count[i]; ++k) B.alpha[i * edges.capacity + k] = static_cast<Real>(B.alpha[i * edges.capacity + k] / Z);
}

/// dE/dα_e = GM_i · m_e / α_e: Σ_(p,u) w[p C + u] Σ_k GM_i[p][u, k] T[u, k], T = Σ_ab cg x_up_j[u, a] Y_b.
template <typename Real>
GAQMD_HD inline double messageDot(const Params<Real>& P, const LayerRef& L, int e, int i, int j, Edges<Real> edges,
                                  EdgeGeometry<Real> geo, LayerBuffers<Real> B, const Real* GM) {
  const int C = P.channels, W = L.numPaths * C;
  const Real* Y = geo.Y + e * P.shDim;
  double dot = 0;
  for (int p = 0; p < L.numPaths; ++p) {
    const TpPathRef& tp = L.tp[p];
    const int d1 = 2 * tp.lIn + 1, d2 = 2 * tp.lSh + 1, d3 = 2 * tp.lOut + 1, sh = tp.lSh * tp.lSh;
    const Real* cg = P.values + tp.cg;
    for (int u = 0; u < C; ++u) {
      const Real* x = B.xu + j * L.in.dim + L.in.offset[tp.blockIn] + u * d1;
      const Real* gm = GM + i * L.mid.dim + L.mid.offset[p] + u * d3;
      double gT = 0;
      for (int a = 0; a < d1; ++a)
        for (int b = 0; b < d2; ++b)
          for (int k = 0; k < d3; ++k) gT += cg[(a * d2 + b) * d3 + k] * x[a] * Y[sh + b] * gm[k];
      dot += B.w[radialSlot(e, edges) * W + p * C + u] * gT;
    }
  }
  return dot;
}

/// Thread i: the softmax backward over i's row: per edge dE/dKraw (gKraw, A) and dE/df (gEnv);
/// per atom dE/dQ_i (gQ, A).
template <typename Real>
GAQMD_HD inline void attentionGradient(int i, const Params<Real>& P, int t, Edges<Real> edges, EdgeGeometry<Real> geo,
                                       LayerBuffers<Real> B, const Real* GM, Real* gQ, Real* gKraw, Real* gEnv) {
  const LayerRef& L = P.layers[t];
  const int A = L.query.rows, begin = i * edges.capacity, count = edges.count[i];
  double beta = 0;  // Σ_e α_e dE/dα_e
  for (int k = 0; k < count; ++k) {
    const int e = begin + k;
    const double dAlpha = messageDot(P, L, e, i, edges.neighbour[e], edges, geo, B, GM);
    gEnv[e] = static_cast<Real>(dAlpha);  // kept here until beta is known
    beta += B.alpha[e] * dAlpha;
  }
  const Real* Q = B.Q + i * A;
  const double rq = inverseNorm(Q, A);
  double gq[GAQ_MAX_ATTENTION], gk[GAQ_MAX_ATTENTION], gKe[GAQ_MAX_ATTENTION];
  for (int a = 0; a < A; ++a) gq[a] = 0;
  for (int k = 0; k < count; ++k) {
    const int e = begin + k;
    const double dw = (gEnv[e] - beta) / B.Z[i];
    const double da = dw * geo.env[e] * B.expA[e];
    gEnv[e] = static_cast<Real>(dw * B.expA[e]);
    const Real* K = B.Kraw + e * A;
    const double rk = inverseNorm(K, A);
    for (int a = 0; a < A; ++a) {
      gq[a] += L.temperature * da * (K[a] * rk);
      gk[a] = L.temperature * da * (Q[a] * rq);
    }
    normBackward(K, gk, A, gKe);
    for (int a = 0; a < A; ++a) gKraw[e * A + a] = static_cast<Real>(gKe[a]);
  }
  double gQi[GAQ_MAX_ATTENTION];
  normBackward(Q, gq, A, gQi);
  for (int a = 0; a < A; ++a) gQ[i * A + a] = static_cast<Real>(gQi[a]);
}

/// dE/d(x_up_j[u]) of scalar channel u through the attention: W_qᵀ gQ_j + W_kᵀ Σ_(edges (i, j)) gKraw.
template <typename Real>
GAQMD_HD inline double attentionInputGradient(const Params<Real>& P, const LayerRef& L, int j, int u, Edges<Real> edges,
                                              const Real* gQ, const Real* gKraw) {
  const int A = L.query.rows;
  double gK[GAQ_MAX_ATTENTION];
  for (int a = 0; a < A; ++a) gK[a] = 0;
  for (int k = 0; k < edges.count[j]; ++k) {
    const int e = edges.reverse[j * edges.capacity + k];
    if (e < 0) continue;
    for (int a = 0; a < A; ++a) gK[a] += gKraw[e * A + a];
  }
  double sum = 0;
  for (int a = 0; a < A; ++a) sum += weightAt(P, L.query, a, u) * gQ[j * A + a] + weightAt(P, L.key, a, u) * gK[a];
  return sum;
}

/// dE/dd_e through the attention of edge e: the key's radial input and the envelope in α.
template <typename Real>
GAQMD_HD inline double attentionDistanceGradient(const Params<Real>& P, const LayerRef& L, int e, EdgeGeometry<Real> geo,
                                                 const Real* gKraw, const Real* gEnv) {
  const int A = L.query.rows;
  Real input[GAQ_MAX_BASIS];
  double mask[GAQ_MAX_BASIS];
  keyRadialInput(P, L, geo, e, input, mask);
  double gd = gEnv[e] * geo.denv[e];
  for (int k = 0; k < P.numBasis; ++k) {
    const double gE = columnDot(P, L.keyRadial, k, gKraw + e * A) * mask[k];
    gd += gE * geo.dbessel[e * P.numBasis + k];
  }
  return gd;
}

}  // namespace gaqmd::cuda
