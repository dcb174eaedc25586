// The per-pair radial MLP (format.md step 3) in forward mode: for kPairBatch pairs at a time the
// GEMM columns hold the values (e·f and its activations) and their tangents d/dd, so one pass gives
// the weights w and dw/dd; the backward pass then needs only dE/dd = Σ dE/dw · dw/dd per edge.
// Quantizers act on the values and mask the tangents (straight-through derivative). Every column
// is computed by the same instructions whatever the batch, so results do not depend on threads.

#include <algorithm>
#include <vector>

#include "gaqmd/engine/Kernels.h"
#include "gaqmd/engine/State.h"
#include "gaqmd/math/activations.h"
#include "gaqmd/math/quant.h"

namespace gaqmd {
namespace {

constexpr int kColumns = 2 * kPairBatch;
static_assert(kColumns % kColumnPad == 0, "radial batch columns must be a multiple of kColumnPad");

/// Rows (n, kColumns): values -> SiLU (in place), tangents *= SiLU'; then the optional LSQ of the
/// values (tangents masked).
void activate(double* Y, int n, const Lsq* q) {
  for (int h = 0; h < n; ++h) {
    double* v = Y + h * kColumns;
    double* t = v + kPairBatch;
    for (int b = 0; b < kPairBatch; ++b) {
      const double z = v[b], s = math::sigmoid(z);
      v[b] = z * s;                          // math::silu
      t[b] *= s * (1.0 + z * (1.0 - s));     // math::siluGrad
      if (q) {
        double mask;
        v[b] = math::lsqFakeQuant(v[b], q->scale[h], q->qmin, q->qmax, &mask);
        t[b] *= mask;
      }
    }
  }
}

}  // namespace

void radialForward(const Model& m, const Layer& L, LayerState& ls, const State& s, int begin, int end) {
  const int K = m.numBasis, H = L.radial[0].rows, Wp = L.Wp;
  const bool quant = m.quantizesActivations();
  thread_local std::vector<double> X, Y;
  X.resize(static_cast<size_t>(std::max(K, H)) * kColumns);
  Y.resize(static_cast<size_t>(std::max(H, Wp)) * kColumns);
  for (int p0 = begin; p0 < end; p0 += kPairBatch) {
    const int B = std::min(kPairBatch, end - p0);
    for (int k = 0; k < K; ++k)
      for (int b = 0; b < kPairBatch; ++b) {
        double v = 0.0, t = 0.0;
        if (b < B) {
          const int p = p0 + b;
          const double e = s.basis[p * K + k], de = s.dbasis[p * K + k];
          v = e * s.env[p];
          t = de * s.env[p] + e * s.denv[p];
        }
        if (quant) {
          double mask;
          v = math::lsqFakeQuant(v, L.radialIn[0].scale[k], L.radialIn[0].qmin, L.radialIn[0].qmax, &mask);
          t *= mask;
        }
        X[k * kColumns + b] = v;
        X[k * kColumns + kPairBatch + b] = t;
      }
    gemm(L.radial[0].packed, X.data(), kColumns, kColumns, Y.data(), kColumns);
    activate(Y.data(), H, quant ? &L.radialIn[1] : nullptr);
    gemm(L.radial[1].packed, Y.data(), kColumns, kColumns, X.data(), kColumns);
    activate(X.data(), H, quant ? &L.radialIn[2] : nullptr);
    gemm(L.radial2Padded, X.data(), kColumns, kColumns, Y.data(), kColumns);
    for (int b = 0; b < B; ++b) {
      double* w = &ls.w[static_cast<size_t>(p0 + b) * Wp];
      double* dw = &ls.dw[static_cast<size_t>(p0 + b) * Wp];
      for (int r = 0; r < Wp; ++r) {
        double v = Y[r * kColumns + b], t = Y[r * kColumns + kPairBatch + b];
        if (r % m.Cp >= m.channels) {
          v = t = 0.0;  // padding
        } else if (quant) {
          const Lsq& q = L.radialOutPadded;
          double mask;
          v = math::lsqFakeQuant(v, q.scale[r], q.qmin, q.qmax, &mask);
          t *= mask;
        }
        w[r] = v;
        dw[r] = t;
      }
    }
  }
}

}  // namespace gaqmd
