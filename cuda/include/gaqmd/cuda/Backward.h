#pragma once
// Per-thread work of the analytic backward pass: reverse mode through readout, gates and linears,
// per-edge gradients of Y and of the edge length, forces per atom from the edge gradients.
// Scatter-free: the gradient of a neighbour's features is gathered through its own row, since
// (i, j) is in j's row as (j, i) (Edges::reverse).

#include "gaqmd/cuda/Attention.h"
#include "gaqmd/cuda/Forward.h"

namespace gaqmd::cuda {

/// Gradient buffers of one layer (reused by every layer), each (n, dim of that layer's layout).
template <typename Real>
struct GradBuffers {
  Real* Gout = nullptr;  // (n, D_out) dE/dout of the current layer (from the layer above or the readout)
  Real* gg = nullptr;    // (n, D_gate) dE/dg
  Real* GM = nullptr;    // (n, D_mid) dE/dM
  Real* Gxu = nullptr;   // (n, D_in) dE/dx_up
  Real* GxuPre = nullptr;  // (n, D_in) dE/d linear_up output (w4a8; else the same buffer as Gxu)
  Real* Gxq = nullptr;  // (n, D_in) dE/dxq (w4a8; else the same buffer as Gx)
  Real* Gx = nullptr;    // (n, D_in) dE/dx: the layer below's Gout
  Real* gradR = nullptr; // (E, 3) dE/dr_e per edge slot
  // attention: per atom gQ (n, A) = dE/dQ, per edge gKraw (E, A) = dE/dKraw, gEnv (E,)
  Real *gQ = nullptr, *gKraw = nullptr, *gEnv = nullptr;
};

/// Thread (i, o): dE/dout of the last layer: the readout's gradient on the first C scalars.
template <typename Real>
GAQMD_HD inline void readoutGradient(int item, const Params<Real>& P, const int* species, const Real* out, int outDim,
                                     Real* Gout) {
  const ReadoutRef& ro = P.readout;
  const int i = item / outDim, o = item % outDim;
  if (o >= P.channels) {
    Gout[item] = 0;
    return;
  }
  Real h[GAQ_MAX_HIDDEN];
  const Real* s = out + i * outDim;
  readoutHidden(P, s, h);
  const Real gy = P.values[ro.scale + species[i]];
  Real sum = 0;
  double outMask, inMask;
  for (int r = 0; r < ro.hidden.rows; ++r) {
    lsqValue(P, ro.outIn, r, math::silu(h[r]), &outMask);
    sum += weightAt(P, ro.hidden, r, o) *
           static_cast<Real>(weightAt(P, ro.out, 0, r) * gy * outMask * math::siluGrad(h[r]));
  }
  lsqValue(P, ro.hiddenIn, o, s[o], &inMask);
  Gout[item] = static_cast<Real>(sum * inMask);
}

/// Thread (i, o): dE/dg[i][o] through the gate (o in the gate layout).
template <typename Real>
GAQMD_HD inline void gateGradient(int item, const Params<Real>& P, int t, LayerBuffers<Real> B, GradBuffers<Real> G) {
  const LayerRef& L = P.layers[t];
  const int i = item / L.gate.dim, o = item % L.gate.dim, C = L.out.mul[0];
  const Real* g = B.g + i * L.gate.dim;
  const Real* gy = G.Gout + i * L.out.dim;
  double result = 0;
  if (o < C) {
    result = gy[o] * L.scalarActScale * math::siluGrad(g[o]);
  } else if (o < L.gate.mul[0]) {  // a gate: Σ over its gated irrep's components
    int b = 1, u = o - C;
    while (u >= L.out.mul[b]) u -= L.out.mul[b++];
    const int d = 2 * L.out.l[b] + 1;
    double along = 0;
    for (int m = 0; m < d; ++m) along += gy[L.out.offset[b] + u * d + m] * g[L.gate.offset[b] + u * d + m];
    result = along * L.gateActScale * math::sigmoidGrad(g[o]);
  } else {  // a gated component
    const int b = blockOf(L.gate, o), d = 2 * L.gate.l[b] + 1;
    const int u = (o - L.gate.offset[b]) / d, m = (o - L.gate.offset[b]) % d;
    result = L.gateActScale * math::sigmoid(g[gateIndex(L.out, b, u)]) * gy[L.out.offset[b] + u * d + m];
  }
  G.gg[item] = static_cast<Real>(result);
}

/// Thread (i, o): dE/dM[i][o] = linear_downᵀ(gg_i)[o].
template <typename Real>
GAQMD_HD inline void messageGradient(int item, const Params<Real>& P, int t, GradBuffers<Real> G) {
  const LayerRef& L = P.layers[t];
  const int i = item / L.mid.dim, o = item % L.mid.dim;
  G.GM[item] = linearTransposedElement(P, L.down, L.mid, L.gate, G.gg + i * L.gate.dim, o);
}

/// Thread (j, b, u): dE/dx_up[j][block b][u, ·] = Σ over paths p from block b, over the edges (i, j)
/// that read x_up_j (the reverses of j's row): c w_e[p C + u] Σ_k cy_e[·, k] GM[i][p][u, k].
template <typename Real>
GAQMD_HD inline void upGradient(int item, const Params<Real>& P, int t, Edges<Real> edges, EdgeGeometry<Real> geo,
                                LayerBuffers<Real> B, GradBuffers<Real> G) {
  const LayerRef& L = P.layers[t];
  const int C = P.channels, j = item / (L.in.count * C), b = (item / C) % L.in.count, u = item % C;
  const int d1 = 2 * L.in.l[b] + 1, W = L.numPaths * C;
  Real acc[5] = {0, 0, 0, 0, 0}, cy[25];
  for (int p = 0; p < L.numPaths; ++p) {
    const TpPathRef& tp = L.tp[p];
    if (tp.blockIn != b) continue;
    const int d2 = 2 * tp.lSh + 1, d3 = 2 * tp.lOut + 1;
    for (int k = 0; k < edges.count[j]; ++k) {
      const int e = edges.reverse[j * edges.capacity + k];  // (i, j) in i's row
      if (e < 0) continue;
      const int i = rowOf(e, edges.capacity);
      contractSh(P.values + tp.cg, d1, d2, d3, geo.Y + e * P.shDim + tp.lSh * tp.lSh, cy);
      const Real w = edgeWeight(L, B, e) * B.w[radialSlot(e, edges) * W + p * C + u];
      const Real* gm = G.GM + i * L.mid.dim + L.mid.offset[p] + u * d3;
      for (int a = 0; a < d1; ++a) {
        Real sum = 0;
        for (int c = 0; c < d3; ++c) sum += cy[a * d3 + c] * gm[c];
        acc[a] += w * sum;
      }
    }
  }
  const Real scale = messageScaleOf(P, L);
  for (int a = 0; a < d1; ++a) G.Gxu[j * L.in.dim + L.in.offset[b] + u * d1 + a] = scale * acc[a];
  if (L.attention && b == 0)  // query and key read the first C scalars, block 0
    G.Gxu[j * L.in.dim + u] += static_cast<Real>(attentionInputGradient(P, L, j, u, edges, G.gQ, G.gKraw));
}

/// Thread e = (i, j): adds this layer's dE/dd (through the radial weights) and dE/dY of the edge.
template <typename Real>
GAQMD_HD inline void edgeGradient(int e, const Params<Real>& P, int t, Edges<Real> edges, EdgeGeometry<Real> geo,
                                  LayerBuffers<Real> B, GradBuffers<Real> G) {
  const int i = rowOf(e, edges.capacity);
  if (slotOf(e, edges.capacity) >= edges.count[i]) return;
  const LayerRef& L = P.layers[t];
  const int j = edges.neighbour[e], C = P.channels, W = L.numPaths * C;
  const Real c = messageScaleOf(P, L) * edgeWeight(L, B, e);
  const Real* Y = geo.Y + e * P.shDim;
  Real gd = 0, gY[kMaxSh] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
  for (int p = 0; p < L.numPaths; ++p) {
    const TpPathRef& tp = L.tp[p];
    const int d1 = 2 * tp.lIn + 1, d2 = 2 * tp.lSh + 1, d3 = 2 * tp.lOut + 1, sh = tp.lSh * tp.lSh;
    const Real* cg = P.values + tp.cg;
    for (int u = 0; u < C; ++u) {
      const Real* x = B.xu + j * L.in.dim + L.in.offset[tp.blockIn] + u * d1;
      const Real* gm = G.GM + i * L.mid.dim + L.mid.offset[p] + u * d3;
      const int s = radialSlot(e, edges) * W + p * C + u;
      const Real w = B.w[s], dw = B.dw[s];
      Real gT = 0;  // Σ_k gm[k] T[k], T[k] = Σ_ab cg[a, b, k] x[a] Y[b]
      for (int a = 0; a < d1; ++a)
        for (int bb = 0; bb < d2; ++bb)
          for (int k = 0; k < d3; ++k) {
            const Real coef = cg[(a * d2 + bb) * d3 + k];
            if (coef == Real(0)) continue;
            const Real term = coef * x[a] * gm[k];
            gT += term * Y[sh + bb];
            gY[sh + bb] += c * w * term;
          }
      gd += c * dw * gT;
    }
  }
  if (L.attention) gd += static_cast<Real>(attentionDistanceGradient(P, L, e, geo, G.gKraw, G.gEnv));
  geo.gd[e] += gd;
  for (int k = 0; k < P.shDim; ++k) geo.gY[e * P.shDim + k] += gY[k];
}

/// Thread (j, o): dE/dxq[j][o] = self_connectionᵀ(gg_j)[o] + linear_upᵀ(GxuPre_j)[o] (+ Gout[j][o] with
/// the residual); without activation quantizers Gxq is Gx, the layer below's dE/dout.
template <typename Real>
GAQMD_HD inline void inputGradient(int item, const Params<Real>& P, int t, GradBuffers<Real> G) {
  const LayerRef& L = P.layers[t];
  const int j = item / L.in.dim, o = item % L.in.dim;
  Real sum = linearTransposedElement(P, L.self, L.in, L.gate, G.gg + j * L.gate.dim, o) +
             linearTransposedElement(P, L.up, L.in, L.in, G.GxuPre + j * L.in.dim, o);
  if (L.residual) sum += G.Gout[j * L.out.dim + o];
  G.Gxq[item] = sum;
}

/// Thread e: dE/dr_e (3,) = gd u + (I - u uᵀ) dY/du ᵀ gY / d, all layers summed.
template <typename Real>
GAQMD_HD inline void edgeForce(int e, const Params<Real>& P, Edges<Real> edges, EdgeGeometry<Real> geo,
                               GradBuffers<Real> G) {
  if (slotOf(e, edges.capacity) >= edges.count[rowOf(e, edges.capacity)]) return;
  const double d = geo.d[e];
  const double u[3] = {edges.r[3 * e] / d, edges.r[3 * e + 1] / d, edges.r[3 * e + 2] / d};
  double gY[kMaxSh], gu[3], gr[3];
  for (int k = 0; k < P.shDim; ++k) gY[k] = geo.gY[e * P.shDim + k];
  math::sphericalHarmonicsBackward(u, P.lMax, gY, gu);
  math::unitVectorBackward(u, d, gu, gr);
  for (int a = 0; a < 3; ++a) G.gradR[3 * e + a] = static_cast<Real>(geo.gd[e] * u[a] + gr[a]);
}

/// Thread i: F_i = -dE/dx_i = Σ_{e in row i} (dE/dr_e - dE/dr_reverse(e)) (r_e = x_j - x_i), eV/Å,
/// added to OpenMM's fixed-point buffer (slot k of System particle particles[i], stride `stride`)
/// in units of factor (kJ/mol/nm per eV/Å) · 2^32. Nothing when the neighbour search overflowed:
/// the host reruns the step.
template <typename Real>
GAQMD_HD inline void atomForce(int i, Edges<Real> edges, GradBuffers<Real> G, const int* inverse, const int* particles,
                               double factor, int stride, long long* forceBuffer) {
  if (searchOverflowed(edges.overflow)) return;
  double f[3] = {0, 0, 0};
  for (int k = 0; k < edges.count[i]; ++k) {
    const int e = i * edges.capacity + k, back = edges.reverse[e];
    for (int a = 0; a < 3; ++a) f[a] += static_cast<double>(G.gradR[3 * e + a]) - (back >= 0 ? G.gradR[3 * back + a] : 0);
  }
  const int slot = inverse[particles[i]];
  for (int a = 0; a < 3; ++a)
    forceBuffer[slot + a * stride] += static_cast<long long>(f[a] * factor * 4294967296.0);
}

}  // namespace gaqmd::cuda
