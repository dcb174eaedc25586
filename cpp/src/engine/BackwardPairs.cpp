// Backward pass, per pair: everything that depends on the pair geometry (radial MLP, basis,
// envelope, spherical harmonics, attention key), then forces from the pair gradients.

#include <algorithm>

#include "gaqmd/engine/Parallel.h"
#include "gaqmd/engine/State.h"
#include "gaqmd/math/sph.h"

namespace gaqmd {
void pairBackward(const Model& m, const Layer& L, const LayerState& ls, const LayerGrad& lg, State& s, int threads) {
  (void)ls;
  const NeighborList& nl = *s.list;
  const int P = nl.numPairs(), K = m.numBasis, dimY = math::shDim(m.lMax);
  const int A = L.attention ? L.attention->query.rows : 0;
  parallelFor(P, threads, [&](int begin, int end) {
    std::vector<double> gY(dimY), gKr(A), gE(K);
    for (int p = begin; p < end; ++p) {
      const int ef = nl.pairEdge[2 * p], eb = nl.pairEdge[2 * p + 1];  // r_e = +r_p, -r_p
      double gd = lg.gRadial[ef] + lg.gRadial[eb];
      if (L.attention) {
        for (int a = 0; a < A; ++a)
          gKr[a] = lg.gKraw[static_cast<size_t>(ef) * A + a] + lg.gKraw[static_cast<size_t>(eb) * A + a];
        std::fill(gE.begin(), gE.end(), 0.0);
        L.attention->keyRadial.applyTransposedAdd(gKr.data(), gE.data());
        if (m.quantizesEdgeBasis) lsqMaskGrad(L.attention->keyRadialIn, &s.basis[p * K], K, gE.data());
        for (int k = 0; k < K; ++k) gd += gE[k] * s.dbasis[p * K + k];
        gd += (lg.gEnv[ef] + lg.gEnv[eb]) * s.denv[p];
      }
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
