// Forward pass (docs/format.md, "Model"), keeping what the backward pass needs.

#include <algorithm>
#include <cmath>
#include <numeric>

#include "gaqmd/engine/Parallel.h"
#include "gaqmd/engine/State.h"
#include "gaqmd/math/activations.h"
#include "gaqmd/math/frames.h"
#include "gaqmd/math/quant.h"
#include "gaqmd/math/radial.h"
#include "gaqmd/math/sph.h"

namespace gaqmd {
namespace {

constexpr double kDenominatorEps = 1e-30;  // attention: softmax denominator

void pairGeometry(const Model& m, State& s, int threads) {
  const NeighborList& nl = *s.list;
  const int P = nl.numPairs(), K = m.numBasis, dimY = math::shDim(m.lMax);
  s.u.resize(3 * P), s.basis.resize(P * K), s.dbasis.resize(P * K), s.env.resize(P), s.denv.resize(P);
  s.Y.resize(static_cast<size_t>(P) * dimY);
  parallelFor(P, threads, [&](int begin, int end) {
    for (int p = begin; p < end; ++p) {
      const double d = nl.pairD[p];
      for (int a = 0; a < 3; ++a) s.u[3 * p + a] = nl.pairR[3 * p + a] / d;
      math::besselBasis(d, m.cutoff, m.frequencies.data(), K, &s.basis[p * K], &s.dbasis[p * K]);
      s.env[p] = math::polynomialEnvelope(d, m.cutoff, m.cutoffP, &s.denv[p]);
      math::sphericalHarmonics(&s.u[3 * p], m.lMax, &s.Y[static_cast<size_t>(p) * dimY]);
    }
  });
}

/// Local frames from each atom's edges sorted by (distance, neighbour index).
void localFrames(State& s, int threads) {
  const NeighborList& nl = *s.list;
  s.frames.resize(9 * s.n);
  parallelFor(s.n, threads, [&](int begin, int end) {
    std::vector<int> order;
    std::vector<double> dirs;
    for (int i = begin; i < end; ++i) {
      order.resize(nl.start[i + 1] - nl.start[i]);
      std::iota(order.begin(), order.end(), nl.start[i]);
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
        const double da = nl.pairD[nl.pair[a]], db = nl.pairD[nl.pair[b]];
        return da < db || (da == db && nl.neighbour[a] < nl.neighbour[b]);
      });
      dirs.resize(3 * order.size());
      for (size_t k = 0; k < order.size(); ++k)
        for (int a = 0; a < 3; ++a) dirs[3 * k + a] = nl.sign[order[k]] * s.u[3 * nl.pair[order[k]] + a];
      math::localFrame(dirs.data(), static_cast<int>(order.size()), &s.frames[9 * i]);
    }
  });
}

/// Per-(atom, channel) state of the blocks whose backward needs the forward's decisions (mddq,
/// mddq-fp16); codewords c have 2l + 1 components.
void resizeMddq(std::vector<MddqState>& st, const IrrepsQuant& q, const Irreps& irreps, int n) {
  st.resize(irreps.size());
  for (int b = 0; b < irreps.size(); ++b) {
    if (q.kind[b] != BlockKind::Mddq && q.kind[b] != BlockKind::MddqFp16) {
      st[b] = MddqState();
      continue;
    }
    const size_t count = static_cast<size_t>(n) * irreps.mul[b];
    st[b].c.resize((2 * irreps.l[b] + 1) * count), st[b].m.resize(count), st[b].mHat.resize(count);
    st[b].inRange.resize(count), st[b].zero.resize(count);
  }
}

/// x -> xq (in_q) -> x_up -> x_up quantized (up_q), per atom.
void nodeInput(const Model& m, const Layer& L, LayerState& ls, State& s, int threads) {
  const int D = L.in.dim, DT = L.in.dimT;
  ls.xq.resize(s.n * D), ls.xuPre.resize(s.n * D), ls.xu.resize(s.n * D), ls.xuT.resize(static_cast<size_t>(s.n) * DT);
  const bool quant = m.quantizesActivations();
  if (quant) resizeMddq(ls.inQ, L.inQ, L.in, s.n), resizeMddq(ls.upQ, L.upQ, L.in, s.n);
  parallelFor(s.n, threads, [&](int begin, int end) {
    for (int i = begin; i < end; ++i) {
      const double* frame = s.frames.empty() ? nullptr : &s.frames[9 * i];
      double* xq = &ls.xq[i * D];
      if (quant)
        quantizeIrreps(m, L.inQ, L.in, &ls.x[i * D], xq, ls.inQ, i, frame);
      else
        std::copy(&ls.x[i * D], &ls.x[i * D] + D, xq);
    }
    linearBatch(L.up, &ls.xq[begin * D], D, end - begin, &ls.xuPre[begin * D], D, false);
    for (int i = begin; i < end; ++i) {
      const double* frame = s.frames.empty() ? nullptr : &s.frames[9 * i];
      if (quant)
        quantizeIrreps(m, L.upQ, L.in, &ls.xuPre[i * D], &ls.xu[i * D], ls.upQ, i, frame);
      else
        std::copy(&ls.xuPre[i * D], &ls.xuPre[i * D] + D, &ls.xu[i * D]);
      L.in.toTransposed(&ls.xu[i * D], &ls.xuT[static_cast<size_t>(i) * DT], m.Cp);
    }
  });
}

/// Radial MLP per pair (Radial.cpp).
void radialMlp(const Model& m, int layer, LayerState& ls, State& s, int threads) {
  const Layer& L = m.layers[layer];
  if (radialCacheable(m, L)) return radialCached(m, layer, ls, s, threads);
  const size_t size = static_cast<size_t>(s.list->numPairs()) * L.Wp;
  ls.w.resize(size), ls.dw.resize(size);
  const int P = s.list->numPairs();
  parallelFor(P, threads, [&](int begin, int end) { radialForward(m, L, ls, s, begin, end); });
}

/// Attention weights α_e (format.md, "Attention"), per center atom.
void attentionForward(const Model& m, const Layer& L, LayerState& ls, const State& s, int threads) {
  const Attention& att = *L.attention;
  const NeighborList& nl = *s.list;
  const int n = s.n, P = nl.numPairs(), E = nl.numEdges(), A = att.query.rows, K = m.numBasis, D = L.in.dim;
  ls.Q.resize(n * A), ls.Ks.resize(n * A), ls.kr.resize(P * A), ls.Kraw.resize(E * A);
  ls.expA.resize(E), ls.alpha.resize(E), ls.Z.resize(n);
  parallelFor(n, threads, [&](int begin, int end) {
    for (int i = begin; i < end; ++i) {
      att.query.apply(&ls.xu[i * D], &ls.Q[i * A]);
      att.key.apply(&ls.xu[i * D], &ls.Ks[i * A]);
    }
  });
  parallelFor(P, threads, [&](int begin, int end) {
    std::vector<double> e(K);
    for (int p = begin; p < end; ++p) {
      if (m.quantizesEdgeBasis) lsqVector(att.keyRadialIn, &s.basis[p * K], K, e.data());
      else std::copy(&s.basis[p * K], &s.basis[p * K] + K, e.begin());
      att.keyRadial.apply(e.data(), &ls.kr[p * A]);
    }
  });
  parallelFor(n, threads, [&](int begin, int end) {
    for (int i = begin; i < end; ++i) {
      const double rq = inverseNorm(&ls.Q[i * A], A);
      double Z = 0.0;
      for (int e = nl.start[i]; e < nl.start[i + 1]; ++e) {
        double* K_ = &ls.Kraw[static_cast<size_t>(e) * A];
        const int j = nl.neighbour[e], p = nl.pair[e];
        for (int a = 0; a < A; ++a) K_[a] = ls.Ks[j * A + a] + ls.kr[p * A + a];
        const double rk = inverseNorm(K_, A);
        double qk = 0.0;
        for (int a = 0; a < A; ++a) qk += (ls.Q[i * A + a] * rq) * (K_[a] * rk);
        ls.expA[e] = std::exp(att.temperature * qk);
        ls.alpha[e] = s.env[p] * ls.expA[e];
        Z += ls.alpha[e];
      }
      ls.Z[i] = Z + kDenominatorEps;
      for (int e = nl.start[i]; e < nl.start[i + 1]; ++e) ls.alpha[e] /= ls.Z[i];
    }
  });
}

/// M_i = Σ_e c_e m_e, then g = down(M) + self(xq), gate, residual.
void aggregateAndUpdate(const Model& m, const Layer& L, LayerState& ls, const State& s, int threads) {
  const NeighborList& nl = *s.list;
  const int D = L.in.dim, Dm = L.mid.dim, Dg = L.gate.dim, Do = L.out.dim, Wp = L.Wp;
  const int dimY = math::shDim(m.lMax), DT = L.in.dimT, DmT = L.mid.dimT;
  const double plain = 1.0 / std::sqrt(m.avgNumNeighbors);
  ls.M.resize(s.n * Dm), ls.g.resize(s.n * Dg), ls.out.resize(s.n * Do);
  parallelFor(s.n, threads, [&](int begin, int end) {
    std::vector<double> MT(DmT), Y(dimY);
    for (int i = begin; i < end; ++i) {
      double* M = &ls.M[i * Dm];
      std::fill(MT.begin(), MT.end(), 0.0);
      for (int e = nl.start[i]; e < nl.start[i + 1]; ++e) {
        edgeSh(s, m.lMax, e, Y.data());
        const double c = L.attention ? ls.alpha[e] : plain;
        tpForwardEdge(L.plans, m.Cp, &ls.xuT[static_cast<size_t>(nl.neighbour[e]) * DT], Y.data(),
                      &ls.w[static_cast<size_t>(nl.pair[e]) * Wp], c, MT.data());
      }
      L.mid.fromTransposed(MT.data(), M, m.Cp, false);
    }
    linearBatch(L.down, &ls.M[begin * Dm], Dm, end - begin, &ls.g[begin * Dg], Dg, false);
    linearBatch(L.self, &ls.xq[begin * D], D, end - begin, &ls.g[begin * Dg], Dg, true);
    for (int i = begin; i < end; ++i) {
      const double* g = &ls.g[i * Dg];
      double* y = &ls.out[i * Do];
      gateForward(L, g, y);
      if (L.residual)
        for (int k = 0; k < Do; ++k) y[k] += ls.xq[i * D + k];
    }
  });
}

double readout(const Model& m, State& s, int threads) {
  const Readout& ro = m.readout;
  const LayerState& last = s.layers.back();
  const int C = m.channels, R = ro.hidden.rows, Do = m.layers.back().out.dim;
  const bool quant = m.quantizesActivations();
  s.readoutH.resize(s.n * R), s.readoutH2.resize(s.n * R), s.atomEnergy.resize(s.n);
  parallelFor(s.n, threads, [&](int begin, int end) {
    std::vector<double> a(std::max(C, R));
    for (int i = begin; i < end; ++i) {
      const double* x = &last.out[i * Do];
      if (quant) lsqVector(ro.hiddenIn, x, C, a.data()); else std::copy(x, x + C, a.data());
      double* h = &s.readoutH[i * R];
      ro.hidden.apply(a.data(), h);
      for (int r = 0; r < R; ++r) {
        h[r] += ro.hiddenBias[r];
        s.readoutH2[i * R + r] = math::silu(h[r]);
      }
      if (quant) lsqVector(ro.outIn, &s.readoutH2[i * R], R, a.data());
      else std::copy(&s.readoutH2[i * R], &s.readoutH2[i * R] + R, a.data());
      double y;
      ro.out.apply(a.data(), &y);
      y += ro.outBias[0];
      s.atomEnergy[i] = ro.scale[s.species[i]] * y + ro.shift[s.species[i]];
    }
  });
  double energy = 0.0;
  for (int i = 0; i < s.n; ++i) energy += s.atomEnergy[i];
  return energy;
}

}  // namespace

double forward(const Model& m, State& s, int threads) {
  pairGeometry(m, s, threads);
  if (m.usesFrames()) localFrames(s, threads);
  else s.frames.clear();
  const int C = m.channels, S = static_cast<int>(m.species.size());
  s.layers.resize(m.layers.size());  // reused between evaluations (Workspace)
  s.layers[0].x.resize(s.n * C);
  for (int i = 0; i < s.n; ++i)
    for (int u = 0; u < C; ++u) s.layers[0].x[i * C + u] = m.embedding.a[u * S + s.species[i]];
  for (size_t t = 0; t < m.layers.size(); ++t) {
    const Layer& L = m.layers[t];
    LayerState& ls = s.layers[t];
    if (t > 0) ls.x = s.layers[t - 1].out;
    nodeInput(m, L, ls, s, threads);
    radialMlp(m, static_cast<int>(t), ls, s, threads);
    if (L.attention) attentionForward(m, L, ls, s, threads);
    aggregateAndUpdate(m, L, ls, s, threads);
  }
  return readout(m, s, threads);
}

}  // namespace gaqmd
