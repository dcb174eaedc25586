// Reverse-mode backward pass: dE/d(features) layer by layer, dE/dr per pair, forces per atom.
// Phases own their outputs (per atom, per center's edges, per neighbour's incoming edges, per pair),
// so the result does not depend on the thread count.

#include <algorithm>
#include <cmath>

#include "gaqmd/engine/Parallel.h"
#include "gaqmd/engine/State.h"
#include "gaqmd/math/activations.h"
#include "gaqmd/math/quant.h"
#include "gaqmd/math/sph.h"

namespace gaqmd {
namespace {

void readoutBackward(const Model& m, State& s, int threads) {
  const Readout& ro = m.readout;
  const int C = m.channels, R = ro.hidden.rows, Do = m.layers.back().out.dim;
  const bool quant = m.quantizesActivations();
  std::vector<double>& G = s.gradOut.back();
  G.assign(s.n * Do, 0.0);
  const LayerState& last = s.layers.back();
  parallelFor(s.n, threads, [&](int begin, int end) {
    std::vector<double> gh(R);
    for (int i = begin; i < end; ++i) {
      const double gy = ro.scale[s.species[i]];
      std::fill(gh.begin(), gh.end(), 0.0);
      ro.out.applyTransposedAdd(&gy, gh.data());
      if (quant) lsqMaskGrad(ro.outIn, &s.readoutH2[i * R], R, gh.data());
      for (int r = 0; r < R; ++r) gh[r] *= math::siluGrad(s.readoutH[i * R + r]);
      ro.hidden.applyTransposedAdd(gh.data(), &G[i * Do]);
      if (quant) lsqMaskGrad(ro.hiddenIn, &last.out[i * Do], C, &G[i * Do]);
    }
  });
}

/// dE/dout -> dE/dM and the direct part of dE/dxq (residual, self-connection), per atom.
void updateBackward(const Model& m, const Layer& L, const LayerState& ls, const std::vector<double>& G,
                    LayerGrad& lg, int n, int threads) {
  const int D = L.in.dim, Dm = L.mid.dim, Dg = L.gate.dim, Do = L.out.dim, DmT = L.mid.dimT;
  lg.GM.assign(n * Dm, 0.0), lg.Gxq.assign(n * D, 0.0), lg.Gxu.assign(n * D, 0.0);
  lg.GMT.resize(static_cast<size_t>(n) * DmT);
  parallelFor(n, threads, [&](int begin, int end) {
    std::vector<double> gg(static_cast<size_t>(end - begin) * Dg);
    for (int i = begin; i < end; ++i) {
      gateBackward(L, &ls.g[i * Dg], &G[i * Do], &gg[static_cast<size_t>(i - begin) * Dg]);
      if (L.residual) std::copy(&G[i * Do], &G[i * Do] + Do, &lg.Gxq[i * D]);
    }
    linearTransposedAddBatch(L.down, gg.data(), Dg, end - begin, &lg.GM[begin * Dm], Dm);
    linearTransposedAddBatch(L.self, gg.data(), Dg, end - begin, &lg.Gxq[begin * D], D);
    for (int i = begin; i < end; ++i) L.mid.toTransposed(&lg.GM[i * Dm], &lg.GMT[static_cast<size_t>(i) * DmT], m.Cp);
  });
}

/// v -> n(v) = v r, r = (|v|² + eps)^-1/2: g_v = r g_n - r³ v (v·g_n).
void normBackward(const double* v, const double* gn, int A, double* gv) {
  double sq = 0.0, vg = 0.0;
  for (int a = 0; a < A; ++a) sq += v[a] * v[a], vg += v[a] * gn[a];
  const double r = 1.0 / std::sqrt(sq + 1e-12);
  for (int a = 0; a < A; ++a) gv[a] = r * gn[a] - r * r * r * v[a] * vg;
}

/// Attention backward per center i: dE/dα_e -> query (into Gxu_i), per-edge key and envelope grads.
void attentionBackward(const Model& m, const Layer& L, const LayerState& ls, const State& s, LayerGrad& lg,
                       int threads) {
  const Attention& att = *L.attention;
  const NeighborList& nl = *s.list;
  const int A = att.query.rows, D = L.in.dim, Wp = L.Wp, E = nl.numEdges();
  const int dimY = math::shDim(m.lMax), DT = L.in.dimT, DmT = L.mid.dimT;
  lg.gKraw.assign(static_cast<size_t>(E) * A, 0.0), lg.gEnv.assign(E, 0.0);
  parallelFor(s.n, threads, [&](int begin, int end) {
    std::vector<double> Y(dimY), dAlpha, q(A), gq(A), gQ(A), k(A), gk(A);
    for (int i = begin; i < end; ++i) {
      const int e0 = nl.start[i], e1 = nl.start[i + 1];
      dAlpha.assign(e1 - e0, 0.0);
      double beta = 0.0;
      for (int e = e0; e < e1; ++e) {
        edgeSh(s, m.lMax, e, Y.data());
        double dot;  // dE/dM_i · m_e
        tpBackwardEdge(L.plans, m.Cp, &ls.xuT[static_cast<size_t>(nl.neighbour[e]) * DT], Y.data(),
                       &ls.w[static_cast<size_t>(nl.pair[e]) * Wp], nullptr, 1.0, &lg.GMT[static_cast<size_t>(i) * DmT],
                       nullptr, nullptr, nullptr, &dot);
        dAlpha[e - e0] = dot;
        beta += ls.alpha[e] * dot;
      }
      const double rq = inverseNorm(&ls.Q[i * A], A);
      for (int a = 0; a < A; ++a) q[a] = ls.Q[i * A + a] * rq, gq[a] = 0.0;
      for (int e = e0; e < e1; ++e) {
        const double dw = (dAlpha[e - e0] - beta) / ls.Z[i];
        const double da = dw * s.env[nl.pair[e]] * ls.expA[e];
        lg.gEnv[e] = dw * ls.expA[e];
        const double* K = &ls.Kraw[static_cast<size_t>(e) * A];
        const double rk = inverseNorm(K, A);
        for (int a = 0; a < A; ++a) {
          k[a] = K[a] * rk;
          gq[a] += att.temperature * da * k[a];
          gk[a] = att.temperature * da * q[a];
        }
        normBackward(K, gk.data(), A, &lg.gKraw[static_cast<size_t>(e) * A]);
      }
      normBackward(&ls.Q[i * A], gq.data(), A, gQ.data());
      att.query.applyTransposedAdd(gQ.data(), &lg.Gxu[i * D]);
    }
  });
}

/// Per neighbour atom j, over the edges e whose neighbour is j: dE/dxu_j, and per edge gY and
/// gRadial (dE/dd through the radial weights).
void messageBackward(const Model& m, const Layer& L, const LayerState& ls, const State& s, LayerGrad& lg,
                     int threads) {
  const NeighborList& nl = *s.list;
  const int D = L.in.dim, Wp = L.Wp, E = nl.numEdges(), dimY = math::shDim(m.lMax);
  const int DT = L.in.dimT, DmT = L.mid.dimT;
  const int A = L.attention ? L.attention->query.rows : 0;
  const double plain = 1.0 / std::sqrt(m.avgNumNeighbors);
  lg.gY.assign(static_cast<size_t>(E) * dimY, 0.0), lg.gRadial.resize(E);
  parallelFor(s.n, threads, [&](int begin, int end) {
    std::vector<double> Y(dimY), gK(A), gxT(DT);
    for (int j = begin; j < end; ++j) {
      std::fill(gK.begin(), gK.end(), 0.0);
      std::fill(gxT.begin(), gxT.end(), 0.0);
      for (int back = nl.start[j]; back < nl.start[j + 1]; ++back) {
        const int e = nl.reverse[back], i = nl.neighbour[back];
        const double c = L.attention ? ls.alpha[e] : plain;
        const size_t p = nl.pair[e];
        edgeSh(s, m.lMax, e, Y.data());
        tpBackwardEdge(L.plans, m.Cp, &ls.xuT[static_cast<size_t>(j) * DT], Y.data(), &ls.w[p * Wp], &ls.dw[p * Wp], c,
                       &lg.GMT[static_cast<size_t>(i) * DmT], gxT.data(), &lg.gY[static_cast<size_t>(e) * dimY],
                       &lg.gRadial[e], nullptr);
        for (int a = 0; a < A; ++a) gK[a] += lg.gKraw[static_cast<size_t>(e) * A + a];
      }
      L.in.fromTransposed(gxT.data(), &lg.Gxu[j * D], m.Cp, true);
      if (L.attention) L.attention->key.applyTransposedAdd(gK.data(), &lg.Gxu[j * D]);
    }
  });
}

/// dE/dxu -> dE/dx through up_q, linear_up and in_q, per atom.
void inputBackward(const Model& m, const Layer& L, const LayerState& ls, LayerGrad& lg, std::vector<double>& Gx,
                   int n, const std::vector<double>& frames, int threads) {
  const int D = L.in.dim;
  const bool quant = m.quantizesActivations();
  auto frame = [&](int i) { return frames.empty() ? nullptr : &frames[9 * static_cast<size_t>(i)]; };
  Gx.assign(n * D, 0.0);
  parallelFor(n, threads, [&](int begin, int end) {
    std::vector<double> gPre(static_cast<size_t>(end - begin) * D);
    for (int i = begin; i < end; ++i) {
      double* gp = &gPre[static_cast<size_t>(i - begin) * D];
      if (quant) quantizeIrrepsBackward(L.upQ, L.in, &ls.xuPre[i * D], &lg.Gxu[i * D], ls.upQ, i, frame(i), gp);
      else std::copy(&lg.Gxu[i * D], &lg.Gxu[i * D] + D, gp);
    }
    linearTransposedAddBatch(L.up, gPre.data(), D, end - begin, &lg.Gxq[begin * D], D);
    for (int i = begin; i < end; ++i) {
      if (quant) quantizeIrrepsBackward(L.inQ, L.in, &ls.x[i * D], &lg.Gxq[i * D], ls.inQ, i, frame(i), &Gx[i * D]);
      else std::copy(&lg.Gxq[i * D], &lg.Gxq[i * D] + D, &Gx[i * D]);
    }
  });
}

}  // namespace

void backward(const Model& m, State& s, double* forces, int threads) {
  const int T = static_cast<int>(m.layers.size());
  s.gradIn.resize(T);
  s.gradOut.resize(T);
  s.gradR.assign(3 * s.list->numPairs(), 0.0);
  readoutBackward(m, s, threads);
  LayerGrad& lg = s.grad;
  for (int t = T - 1; t >= 0; --t) {
    const Layer& L = m.layers[t];
    const LayerState& ls = s.layers[t];
    updateBackward(m, L, ls, s.gradOut[t], lg, s.n, threads);
    if (L.attention) attentionBackward(m, L, ls, s, lg, threads);
    messageBackward(m, L, ls, s, lg, threads);
    pairBackward(m, L, ls, lg, s, threads);
    inputBackward(m, L, ls, lg, s.gradIn[t], s.n, s.frames, threads);
    if (t > 0) s.gradOut[t - 1] = s.gradIn[t];
  }
  pairForces(s, forces, threads);
}

}  // namespace gaqmd
