// Backward pass, per pair: everything that depends on the pair geometry (radial MLP, basis,
// envelope, spherical harmonics, attention key), then forces from the pair gradients.

#include <algorithm>

#include "gaqmd/engine/Parallel.h"
#include "gaqmd/engine/State.h"
#include "gaqmd/math/activations.h"
#include "gaqmd/math/sph.h"

namespace gaqmd {
namespace {

/// gw (PC) = dE/dw -> gef (K) = dE/d(e f) through the radial MLP and its quantizers.
void radialBackward(const Model& m, const Layer& L, const LayerState& ls, int p, double* gw, double* gef) {
  const int K = m.numBasis, H = L.radial[0].rows, W = L.radial[2].rows;
  const bool quant = m.quantizesActivations();
  std::vector<double> g(H), g2(H), z(H);
  if (quant) lsqMaskGrad(L.radialOut, &ls.w0[p * W], W, gw);
  std::fill(g.begin(), g.end(), 0.0);
  L.radial[2].applyTransposedAdd(gw, g.data());  // dE/da2
  const double* hs[2] = {&ls.h1[p * H], &ls.h2[p * H]};
  for (int layer = 1; layer >= 0; --layer) {  // through silu(h2) then silu(h1)
    const double* h = hs[layer];
    for (int k = 0; k < H; ++k) z[k] = math::silu(h[k]);
    if (quant) lsqMaskGrad(L.radialIn[layer + 1], z.data(), H, g.data());
    for (int k = 0; k < H; ++k) g[k] *= math::siluGrad(h[k]);
    if (layer == 1) {
      std::fill(g2.begin(), g2.end(), 0.0);
      L.radial[1].applyTransposedAdd(g.data(), g2.data());
      g.swap(g2);
    }
  }
  std::fill(gef, gef + K, 0.0);
  L.radial[0].applyTransposedAdd(g.data(), gef);
  if (quant) lsqMaskGrad(L.radialIn[0], &ls.ef[p * K], K, gef);
}

}  // namespace

void pairBackward(const Model& m, const Layer& L, const LayerState& ls, const LayerGrad& lg, State& s, int threads) {
  const NeighborList& nl = *s.list;
  const int P = nl.numPairs(), K = m.numBasis, W = L.radial[2].rows, dimY = math::shDim(m.lMax);
  const int A = L.attention ? L.attention->query.rows : 0;
  parallelFor(P, threads, [&](int begin, int end) {
    std::vector<double> gw(W), gef(K), gBasis(K), gY(dimY), gKr(A);
    for (int p = begin; p < end; ++p) {
      const int ef = nl.pairEdge[2 * p], eb = nl.pairEdge[2 * p + 1];  // r_e = +r_p, -r_p
      for (int k = 0; k < W; ++k) gw[k] = lg.gw[static_cast<size_t>(ef) * W + k] + lg.gw[static_cast<size_t>(eb) * W + k];
      radialBackward(m, L, ls, p, gw.data(), gef.data());
      const double env = s.env[p];
      double gEnv = 0.0;
      for (int k = 0; k < K; ++k) {
        gBasis[k] = gef[k] * env;
        gEnv += gef[k] * s.basis[p * K + k];
      }
      if (L.attention) {
        for (int a = 0; a < A; ++a)
          gKr[a] = lg.gKraw[static_cast<size_t>(ef) * A + a] + lg.gKraw[static_cast<size_t>(eb) * A + a];
        std::vector<double> gE(K, 0.0);
        L.attention->keyRadial.applyTransposedAdd(gKr.data(), gE.data());
        if (m.quantizesActivations()) lsqMaskGrad(L.attention->keyRadialIn, &s.basis[p * K], K, gE.data());
        for (int k = 0; k < K; ++k) gBasis[k] += gE[k];
        gEnv += lg.gEnv[ef] + lg.gEnv[eb];
      }
      double gd = gEnv * s.denv[p];
      for (int k = 0; k < K; ++k) gd += gBasis[k] * s.dbasis[p * K + k];
      for (int k = 0; k < dimY; ++k) {
        const double parity = (k >= 1 && k < 4) ? -1.0 : 1.0;  // Y_l(-u) = (-1)^l Y_l(u)
        gY[k] = lg.gY[static_cast<size_t>(ef) * dimY + k] + parity * lg.gY[static_cast<size_t>(eb) * dimY + k];
      }
      double gu[3], gr[3];
      const double* u = &s.u[3 * p];
      math::sphericalHarmonicsBackward(u, m.lMax, gY.data(), gu);
      math::unitVectorBackward(u, nl.pairD[p], gu, gr);
      for (int a = 0; a < 3; ++a) s.gradR[3 * p + a] += gd * u[a] + gr[a];
    }
  });
}

void pairForces(const State& s, double* forces, int threads) {
  const NeighborList& nl = *s.list;
  parallelFor(s.n, threads, [&](int begin, int end) {
    for (int i = begin; i < end; ++i) {
      double f[3] = {0.0, 0.0, 0.0};
      // r_p = x_j - x_i: dE/dx_i = -gradR, dE/dx_j = +gradR; F = -dE/dx.
      for (int e = nl.start[i]; e < nl.start[i + 1]; ++e)
        for (int a = 0; a < 3; ++a) f[a] += nl.sign[e] * s.gradR[3 * nl.pair[e] + a];
      for (int a = 0; a < 3; ++a) forces[3 * i + a] = f[a];
    }
  });
}

}  // namespace gaqmd
