#pragma once
// Per-thread work of the forward pass (docs/format.md, "Model"; docs/cuda.md, "Pipeline").
// Each function computes the outputs one GPU thread owns; nothing is scattered.

#include "gaqmd/cuda/Quant.h"
#include "gaqmd/cuda/Weights.h"
#include "gaqmd/math/activations.h"
#include "gaqmd/math/radial.h"
#include "gaqmd/math/sph.h"

namespace gaqmd::cuda {

/// Thread e (slot): d, Y(r/d), the radial MLP input e·f (K) and its derivative in d.
template <typename Real>
GAQMD_HD inline void edgeGeometry(int e, const Params<Real>& P, Edges<Real> edges, EdgeGeometry<Real> geo) {
  if (slotOf(e, edges.capacity) >= edges.count[rowOf(e, edges.capacity)]) return;
  const Real* r = edges.r + 3 * e;
  const double d = sqrt((static_cast<double>(r[0]) * r[0] + static_cast<double>(r[1]) * r[1]) +
                        static_cast<double>(r[2]) * r[2]);
  const double u[3] = {r[0] / d, r[1] / d, r[2] / d};
  double Y[kMaxSh], basis[GAQ_MAX_BASIS], dbasis[GAQ_MAX_BASIS], omega[GAQ_MAX_BASIS], df;
  for (int k = 0; k < P.numBasis; ++k) omega[k] = P.values[P.frequencies + k];
  math::sphericalHarmonics(u, P.lMax, Y);
  math::besselBasis(d, P.cutoff, omega, P.numBasis, basis, dbasis);
  const double f = math::polynomialEnvelope(d, P.cutoff, P.cutoffP, &df);
  geo.d[e] = static_cast<Real>(d);
  for (int k = 0; k < P.shDim; ++k) geo.Y[e * P.shDim + k] = static_cast<Real>(Y[k]);
  for (int k = 0; k < P.numBasis; ++k) {
    geo.basis[e * P.numBasis + k] = static_cast<Real>(basis[k] * f);
    geo.dbasis[e * P.numBasis + k] = static_cast<Real>(dbasis[k] * f + basis[k] * df);
  }
  geo.gd[e] = 0;
  for (int k = 0; k < P.shDim; ++k) geo.gY[e * P.shDim + k] = 0;
  if (geo.bessel) {  // attention reads the basis and the envelope separately
    for (int k = 0; k < P.numBasis; ++k) {
      geo.bessel[e * P.numBasis + k] = static_cast<Real>(basis[k]);
      geo.dbessel[e * P.numBasis + k] = static_cast<Real>(dbasis[k]);
    }
    geo.env[e] = static_cast<Real>(f), geo.denv[e] = static_cast<Real>(df);
  }
}

/// The weight of edge e's message: α_e with attention, else 1 (the plain sum is scaled once by
/// messageScale = 1 / sqrt(avg_num_neighbors), messageScaleOf()).
template <typename Real>
GAQMD_HD inline Real edgeWeight(const LayerRef& L, const LayerBuffers<Real>& B, int e) {
  return L.attention ? B.alpha[e] : Real(1);
}
template <typename Real>
GAQMD_HD inline Real messageScaleOf(const Params<Real>& P, const LayerRef& L) {
  return L.attention ? Real(1) : static_cast<Real>(P.messageScale);
}

/// Thread (i, u): layer 0's input x[i][u] = embedding[u, species_i].
template <typename Real>
GAQMD_HD inline void embed(int item, const Params<Real>& P, const int* species, Real* x) {
  const int i = item / P.channels, u = item % P.channels;
  x[item] = weightAt(P, P.embedding, u, species[i]);
}

/// Thread (i, o): linear_up(xq_i)[o] (into xuPre: the same buffer as xu unless w4a8 quantizes it).
template <typename Real>
GAQMD_HD inline void linearUp(int item, const Params<Real>& P, int t, LayerBuffers<Real> B) {
  const LayerRef& L = P.layers[t];
  const int i = item / L.in.dim, o = item % L.in.dim;
  B.xuPre[item] = linearElement(P, L.up, L.in, L.in, B.xq + i * L.in.dim, o);
}

/// Values v and tangents tv (d/dd) through LSQ q (w4a8; identity otherwise): v̂, tv · mask.
template <typename Real>
GAQMD_HD inline void quantizeWithTangents(const Params<Real>& P, const LsqRef& q, int n, Real* v, Real* tv) {
  for (int k = 0; k < n; ++k) {
    double mask;
    v[k] = static_cast<Real>(lsqValue(P, q, k, v[k], &mask));
    tv[k] = static_cast<Real>(tv[k] * mask);
  }
}

/// One dense layer of the radial MLP on values v and tangents tv (d/dd): y = A v, ty = A tv,
/// then SiLU on both (tangent times SiLU'), then LSQ q of the next matrix's input.
template <typename Real>
GAQMD_HD inline void radialHidden(const Params<Real>& P, const MatrixRef& A, const LsqRef& q, const Real* v,
                                  const Real* tv, Real* y, Real* ty) {
  for (int h = 0; h < A.rows; ++h) {
    const Real a = rowDot(P, A, h, v), ta = rowDot(P, A, h, tv);
    y[h] = static_cast<Real>(math::silu(a));
    ty[h] = static_cast<Real>(ta * math::siluGrad(a));
  }
  quantizeWithTangents(P, q, A.rows, y, ty);
}

/// Thread e (slot): radial weights w = MLP(e·f) (P C,) and dw/dd, forward mode, for the slots of
/// radialSlot() (one per pair).
template <typename Real>
GAQMD_HD inline void radialWeights(int e, const Params<Real>& P, int t, Edges<Real> edges, EdgeGeometry<Real> geo,
                                   LayerBuffers<Real> B) {
  if (slotOf(e, edges.capacity) >= edges.count[rowOf(e, edges.capacity)]) return;
  if (radialSlot(e, edges) != e) return;
  const LayerRef& L = P.layers[t];
  Real h0[GAQ_MAX_BASIS], t0[GAQ_MAX_BASIS];
  Real h1[GAQ_MAX_HIDDEN], t1[GAQ_MAX_HIDDEN], h2[GAQ_MAX_HIDDEN], t2[GAQ_MAX_HIDDEN];
  for (int k = 0; k < P.numBasis; ++k) h0[k] = geo.basis[e * P.numBasis + k], t0[k] = geo.dbasis[e * P.numBasis + k];
  quantizeWithTangents(P, L.radialIn[0], P.numBasis, h0, t0);
  radialHidden(P, L.radial[0], L.radialIn[1], h0, t0, h1, t1);
  radialHidden(P, L.radial[1], L.radialIn[2], h1, t1, h2, t2);
  const int W = L.radial[2].rows;
  for (int r = 0; r < W; ++r) {
    double mask;
    B.w[e * W + r] = static_cast<Real>(lsqValue(P, L.radialOut, r, rowDot(P, L.radial[2], r, h2), &mask));
    B.dw[e * W + r] = static_cast<Real>(mask * rowDot(P, L.radial[2], r, t2));
  }
}

/// cy[a, k] = Σ_b cg[a, b, k] Y_b for one path (d1 x d3, at most 5 x 5).
template <typename Real>
GAQMD_HD inline void contractSh(const Real* cg, int d1, int d2, int d3, const Real* Y, Real* cy) {
  for (int a = 0; a < d1; ++a)
    for (int k = 0; k < d3; ++k) {
      Real sum = 0;
      for (int b = 0; b < d2; ++b) sum += cg[(a * d2 + b) * d3 + k] * Y[b];
      cy[a * d3 + k] = sum;
    }
}

/// Thread (i, p, u): M[i][mid block p][u, ·] = c Σ_e w_e[p C + u] Σ_a cy_e[a, ·] x_up[j_e][u, a].
template <typename Real>
GAQMD_HD inline void aggregateMessages(int item, const Params<Real>& P, int t, Edges<Real> edges,
                                       EdgeGeometry<Real> geo, LayerBuffers<Real> B) {
  const LayerRef& L = P.layers[t];
  const int C = P.channels, i = item / (L.numPaths * C), p = (item / C) % L.numPaths, u = item % C;
  const TpPathRef& tp = L.tp[p];
  const int d1 = 2 * tp.lIn + 1, d2 = 2 * tp.lSh + 1, d3 = 2 * tp.lOut + 1, W = L.numPaths * C;
  const int xOffset = L.in.offset[tp.blockIn] + u * d1;
  Real acc[5] = {0, 0, 0, 0, 0}, cy[25];
  for (int k = 0; k < edges.count[i]; ++k) {
    const int e = i * edges.capacity + k, j = edges.neighbour[e];
    contractSh(P.values + tp.cg, d1, d2, d3, geo.Y + e * P.shDim + tp.lSh * tp.lSh, cy);
    const Real w = edgeWeight(L, B, e) * B.w[radialSlot(e, edges) * W + p * C + u];
    const Real* x = B.xu + j * L.in.dim + xOffset;
    for (int c = 0; c < d3; ++c) {
      Real sum = 0;
      for (int a = 0; a < d1; ++a) sum += cy[a * d3 + c] * x[a];
      acc[c] += w * sum;
    }
  }
  for (int c = 0; c < d3; ++c)
    B.M[i * L.mid.dim + L.mid.offset[p] + u * d3 + c] = messageScaleOf(P, L) * acc[c];
}

/// Thread (i, o): g[i][o] = linear_down(M_i)[o] + self_connection(xq_i)[o].
template <typename Real>
GAQMD_HD inline void gateInput(int item, const Params<Real>& P, int t, LayerBuffers<Real> B) {
  const LayerRef& L = P.layers[t];
  const int i = item / L.gate.dim, o = item % L.gate.dim;
  B.g[item] = linearElement(P, L.down, L.mid, L.gate, B.M + i * L.mid.dim, o) +
              linearElement(P, L.self, L.in, L.gate, B.xq + i * L.in.dim, o);
}

/// Gate index (in the gate layout) of channel u of gated block b >= 1: C + Σ_{b' < b} mul_b' + u.
GAQMD_HD inline int gateIndex(const Blocks& out, int b, int u) {
  int index = out.mul[0];
  for (int c = 1; c < b; ++c) index += out.mul[c];
  return index + u;
}

/// Thread (i, o): out[i][o] = gate(g_i)[o] (+ xq[i][o] with the residual).
template <typename Real>
GAQMD_HD inline void gateOutput(int item, const Params<Real>& P, int t, LayerBuffers<Real> B) {
  const LayerRef& L = P.layers[t];
  const int i = item / L.out.dim, o = item % L.out.dim;
  const Real* g = B.g + i * L.gate.dim;
  const int b = blockOf(L.out, o);
  double y;
  if (b == 0) {
    y = L.scalarActScale * math::silu(g[o]);
  } else {
    const int d = 2 * L.out.l[b] + 1, u = (o - L.out.offset[b]) / d, m = (o - L.out.offset[b]) % d;
    y = L.gateActScale * math::sigmoid(g[gateIndex(L.out, b, u)]) * g[L.gate.offset[b] + u * d + m];
  }
  if (L.residual) y += B.xq[i * L.in.dim + o];
  B.out[item] = static_cast<Real>(y);
}

/// Readout hidden pre-activations h (R,) of atom i from its final scalars s (C,) (LSQ hiddenIn in w4a8).
template <typename Real>
GAQMD_HD inline void readoutHidden(const Params<Real>& P, const Real* s, Real* h) {
  const ReadoutRef& ro = P.readout;
  Real a[GAQ_MAX_CHANNELS];
  double mask;
  for (int u = 0; u < P.channels; ++u) a[u] = static_cast<Real>(lsqValue(P, ro.hiddenIn, u, s[u], &mask));
  for (int r = 0; r < ro.hidden.rows; ++r) h[r] = rowDot(P, ro.hidden, r, a) + P.values[ro.hiddenBias + r];
}

/// Thread i: atom energy E_i (eV) from the last layer's output row.
template <typename Real>
GAQMD_HD inline void atomEnergy(int i, const Params<Real>& P, const int* species, const Real* out, int outDim,
                                Real* energy) {
  const ReadoutRef& ro = P.readout;
  Real h[GAQ_MAX_HIDDEN];
  readoutHidden(P, out + i * outDim, h);
  double mask;
  for (int r = 0; r < ro.hidden.rows; ++r) h[r] = static_cast<Real>(lsqValue(P, ro.outIn, r, math::silu(h[r]), &mask));
  const Real y = rowDot(P, ro.out, 0, h) + P.values[ro.outBias];
  energy[i] = P.values[ro.scale + species[i]] * y + P.values[ro.shift + species[i]];
}

/// Thread `thread` of `threads`: energyBuffer[thread] += factor Σ_{i ≡ thread} E_i (OpenMM keeps one
/// energy slot per thread and sums them after the step). Mixed: the buffer's type. Nothing when the
/// neighbour search overflowed (overflow: Edges::overflow): the host reruns the step.
template <typename Real, typename Mixed>
GAQMD_HD inline void addEnergy(int thread, int threads, const Real* energy, int n, double factor,
                               const int* overflow, Mixed* buffer) {
  if (searchOverflowed(overflow)) return;
  Mixed sum = 0;
  for (int i = thread; i < n; i += threads) sum += static_cast<Mixed>(energy[i]);
  buffer[thread] += static_cast<Mixed>(factor) * sum;
}

}  // namespace gaqmd::cuda
