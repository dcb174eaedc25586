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
#include "gaqmd/math/radial.h"

namespace gaqmd {
namespace {

constexpr int kColumns = 2 * kPairBatch;
static_assert(kColumns % kColumnPad == 0, "radial batch columns must be a multiple of kColumnPad");

/// Rows (n, kColumns): values -> SiLU, tangents *= SiLU', then the optional LSQ (Kernels.h).
void activate(double* Y, int n, const Lsq* q) {
  radialActivate(Y, n, kColumns, kPairBatch, q ? q->scale.data() : nullptr, q ? q->qmin : 0.0, q ? q->qmax : 0.0);
}

}  // namespace

namespace {

/// The exact MLP for `count` inputs q: e = basis[q K ..], de = dbasis[..], f = env[q], df = denv[q];
/// writes w, dw (count rows of ld Wp).
void radialExact(const Model& m, const Layer& L, int count, const double* basis, const double* dbasis,
                 const double* env, const double* denv, double* wOut, double* dwOut) {
  const int K = m.numBasis, H = L.radial[0].rows, Wp = L.Wp;
  const bool quant = m.quantizesActivations();
  thread_local std::vector<double> X, Y;
  X.resize(static_cast<size_t>(std::max(K, H)) * kColumns);
  Y.resize(static_cast<size_t>(std::max(H, Wp)) * kColumns);
  for (int q0 = 0; q0 < count; q0 += kPairBatch) {
    const int B = std::min(kPairBatch, count - q0);
    for (int k = 0; k < K; ++k)
      for (int b = 0; b < kPairBatch; ++b) {
        double v = 0.0, t = 0.0;
        if (b < B) {
          const int q = q0 + b;
          const double e = basis[q * K + k], de = dbasis[q * K + k];
          v = e * env[q];
          t = de * env[q] + e * denv[q];
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
    if (quant) {
      const Lsq& q = L.radialOutPadded;
      radialQuantize(Y.data(), Wp, kColumns, kPairBatch, q.scale.data(), q.qmin, q.qmax);
    }
    for (int b = 0; b < B; ++b) {
      double* w = wOut + static_cast<size_t>(q0 + b) * Wp;
      double* dw = dwOut + static_cast<size_t>(q0 + b) * Wp;
      for (int r = 0; r < Wp; ++r) {
        const bool padding = r % m.Cp >= m.channels;
        w[r] = padding ? 0.0 : Y[r * kColumns + b];
        dw[r] = padding ? 0.0 : Y[r * kColumns + kPairBatch + b];
      }
    }
  }
}

}  // namespace

void radialForward(const Model& m, const Layer& L, LayerState& ls, const State& s, int begin, int end) {
  const int K = m.numBasis, Wp = L.Wp;
  if (L.radialTable.empty()) {
    radialExact(m, L, end - begin, &s.basis[static_cast<size_t>(begin) * K], &s.dbasis[static_cast<size_t>(begin) * K],
                &s.env[begin], &s.denv[begin], &ls.w[static_cast<size_t>(begin) * Wp],
                &ls.dw[static_cast<size_t>(begin) * Wp]);
    return;
  }
  // Tabulated: d in [h, r_c) from the table, the (unphysically) shorter pairs exactly.
  thread_local std::vector<int> exact;
  exact.clear();
  const NeighborList& nl = *s.list;
  const int intervals = m.tablePoints - 1;
  for (int p = begin; p < end; ++p) {
    const double x = nl.pairD[p] * m.tableInvStep;  // d / h
    if (!(x >= 1.0)) {
      exact.push_back(p);
      continue;
    }
    const int q = std::min(static_cast<int>(x) - 1, intervals - 1);  // interval [(q+1) h, (q+2) h]
    const double t = x - (q + 1);
    hermiteSegment(&L.radialTable[static_cast<size_t>(q) * 4 * Wp], Wp, t, m.tableInvStep,
                   &ls.w[static_cast<size_t>(p) * Wp], &ls.dw[static_cast<size_t>(p) * Wp]);
  }
  for (int p : exact)
    radialExact(m, L, 1, &s.basis[static_cast<size_t>(p) * K], &s.dbasis[static_cast<size_t>(p) * K], &s.env[p],
                &s.denv[p], &ls.w[static_cast<size_t>(p) * Wp], &ls.dw[static_cast<size_t>(p) * Wp]);
}

void tabulateRadial(Model& m, int points) {
  if (m.quantizesActivations())
    throw ModelError("the tabulated radial mode (radial_table_points = " + std::to_string(points) +
                     ") is for fp32 and w4a32 models only: in w4a8 the radial MLP's inputs are quantized, so its "
                     "output is not a smooth function of the distance");
  if (points < 2 || points > (1 << 20))
    throw ModelError("radial_table_points = " + std::to_string(points) + " is outside 2..1048576 (0: exact mode)");
  const int K = m.numBasis, n = points;
  const double h = m.cutoff / n;
  std::vector<double> basis(static_cast<size_t>(n) * K), dbasis(basis.size()), env(n), denv(n);
  for (int k = 0; k < n; ++k) {
    const double d = (k + 1) * h;  // knots h, 2h, ..., r_c
    math::besselBasis(d, m.cutoff, m.frequencies.data(), K, &basis[static_cast<size_t>(k) * K],
                      &dbasis[static_cast<size_t>(k) * K]);
    env[k] = math::polynomialEnvelope(d, m.cutoff, m.cutoffP, &denv[k]);
  }
  for (Layer& L : m.layers) {
    const int Wp = L.Wp;
    std::vector<double> w(static_cast<size_t>(n) * Wp), dw(w.size());
    radialExact(m, L, n, basis.data(), dbasis.data(), env.data(), denv.data(), w.data(), dw.data());
    L.radialTable.assign(static_cast<size_t>(n - 1) * 4 * Wp, 0.0);
    for (int q = 0; q + 1 < n; ++q) {
      double* c = &L.radialTable[static_cast<size_t>(q) * 4 * Wp];
      for (int r = 0; r < Wp; ++r) {
        const double w0 = w[static_cast<size_t>(q) * Wp + r], w1 = w[static_cast<size_t>(q + 1) * Wp + r];
        const double m0 = h * dw[static_cast<size_t>(q) * Wp + r], m1 = h * dw[static_cast<size_t>(q + 1) * Wp + r];
        c[r] = w0;
        c[Wp + r] = m0;
        c[2 * Wp + r] = 3.0 * (w1 - w0) - 2.0 * m0 - m1;
        c[3 * Wp + r] = 2.0 * (w0 - w1) + m0 + m1;
      }
    }
  }
  m.tablePoints = n;
  m.tableStep = h;
  m.tableInvStep = 1.0 / h;
}

}  // namespace gaqmd
