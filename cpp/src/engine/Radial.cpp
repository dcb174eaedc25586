// The per-pair radial MLP (format.md step 3), forward and backward, batched over up to kRadialBatch
// pairs stored transposed ((features, B)) so the inner loops run over pairs. Each pair's values
// are summed in the same order whatever the batch, so results do not depend on batching/threads.

#include <algorithm>

#include "gaqmd/engine/State.h"
#include "gaqmd/math/activations.h"
#include "gaqmd/math/quant.h"

namespace gaqmd {
namespace {

/// Per-channel LSQ of a transposed batch X (n, B) in place (channel k = row k).
void lsqRows(const Lsq& q, double* X, int n, int B) {
  for (int k = 0; k < n; ++k)
    for (int b = 0; b < B; ++b) X[k * B + b] = math::lsqFakeQuant(X[k * B + b], q.scale[k], q.qmin, q.qmax, nullptr);
}

/// G (n, B) *= LSQ mask of X (n, B).
void lsqMaskRows(const Lsq& q, const double* X, double* G, int n, int B) {
  for (int k = 0; k < n; ++k)
    for (int b = 0; b < B; ++b) {
      double mask;
      math::lsqFakeQuant(X[k * B + b], q.scale[k], q.qmin, q.qmax, &mask);
      G[k * B + b] *= mask;
    }
}

/// Transposed (n, B) block <-> per-pair rows (P, n) starting at pair p0.
void toRows(const double* T, int n, int B, double* rows, int p0) {
  for (int b = 0; b < B; ++b)
    for (int k = 0; k < n; ++k) rows[static_cast<size_t>(p0 + b) * n + k] = T[k * B + b];
}
void fromRows(const double* rows, int n, int B, double* T, int p0) {
  for (int b = 0; b < B; ++b)
    for (int k = 0; k < n; ++k) T[k * B + b] = rows[static_cast<size_t>(p0 + b) * n + k];
}

}  // namespace

void radialForward(const Model& m, const Layer& L, LayerState& ls, const State& s, int begin, int end) {
  const int K = m.numBasis, H = L.radial[0].rows, W = L.radial[2].rows;
  const bool quant = m.quantizesActivations();
  std::vector<double> X(std::max(K, H) * kRadialBatch), Y(std::max(H, W) * kRadialBatch);
  for (int p0 = begin; p0 < end; p0 += kRadialBatch) {
    const int B = std::min(kRadialBatch, end - p0);
    for (int b = 0; b < B; ++b)
      for (int k = 0; k < K; ++k) {
        const int p = p0 + b;
        ls.ef[p * K + k] = s.basis[p * K + k] * s.env[p];
        X[k * B + b] = ls.ef[p * K + k];
      }
    if (quant) lsqRows(L.radialIn[0], X.data(), K, B);
    for (int layer = 0; layer < 2; ++layer) {
      L.radial[layer].applyBatch(X.data(), B, Y.data());
      toRows(Y.data(), H, B, (layer == 0 ? ls.h1 : ls.h2).data(), p0);
      for (int k = 0; k < H * B; ++k) X[k] = math::silu(Y[k]);
      if (quant) lsqRows(L.radialIn[layer + 1], X.data(), H, B);
    }
    L.radial[2].applyBatch(X.data(), B, Y.data());
    toRows(Y.data(), W, B, ls.w0.data(), p0);
    if (quant) lsqRows(L.radialOut, Y.data(), W, B);
    toRows(Y.data(), W, B, ls.w.data(), p0);
  }
}

void radialBackward(const Model& m, const Layer& L, const LayerState& ls, int p0, int B, double* gW, double* gEf) {
  const int K = m.numBasis, H = L.radial[0].rows, W = L.radial[2].rows;
  const bool quant = m.quantizesActivations();
  std::vector<double> pre(std::max({K, H, W}) * B), z(H * B), g(H * B), g2(H * B);
  if (quant) {
    fromRows(ls.w0.data(), W, B, pre.data(), p0);
    lsqMaskRows(L.radialOut, pre.data(), gW, W, B);
  }
  std::fill(g.begin(), g.end(), 0.0);
  L.radial[2].applyTransposedAddBatch(gW, B, g.data());  // dE/da2 (H, B)
  for (int layer = 1; layer >= 0; --layer) {              // through silu(h2), then silu(h1)
    fromRows((layer == 1 ? ls.h2 : ls.h1).data(), H, B, pre.data(), p0);
    for (int k = 0; k < H * B; ++k) z[k] = math::silu(pre[k]);
    if (quant) lsqMaskRows(L.radialIn[layer + 1], z.data(), g.data(), H, B);
    for (int k = 0; k < H * B; ++k) g[k] *= math::siluGrad(pre[k]);
    if (layer == 1) {
      std::fill(g2.begin(), g2.end(), 0.0);
      L.radial[1].applyTransposedAddBatch(g.data(), B, g2.data());
      g.swap(g2);
    }
  }
  std::fill(gEf, gEf + K * B, 0.0);
  L.radial[0].applyTransposedAddBatch(g.data(), B, gEf);
  if (quant) {
    fromRows(ls.ef.data(), K, B, pre.data(), p0);
    lsqMaskRows(L.radialIn[0], pre.data(), gEf, K, B);
  }
}

}  // namespace gaqmd
