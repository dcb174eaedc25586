// The per-pair radial MLP (format.md step 3) in forward mode: for kPairBatch pairs at a time the
// GEMM columns hold the values (e·f and its activations) and their tangents d/dd, so one pass gives
// the weights w and dw/dd; the backward pass then needs only dE/dd = Σ dE/dw · dw/dd per edge.
// Quantizers act on the values and mask the tangents (straight-through derivative). Every column
// is computed by the same instructions whatever the batch, so results do not depend on threads.

#include <algorithm>
#include <cmath>
#include <vector>

#include "gaqmd/engine/Parallel.h"

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
  radialActivate(Y, n, kColumns, kPairBatch, q ? q->scale.data() : nullptr, q ? q->qmin : 0.0, q ? q->qmax : 0.0,
                 q ? q->clipped : true);
}

}  // namespace

namespace {

/// One batch through the MLP: X (K rows of kColumns: values | tangents, after the input
/// quantizer) -> the returned rows (Wp of kColumns, in Y); X and Y are scratch of max(K, H, Wp) rows.
const double* mlpBatch(const Model& m, const Layer& L, double* X, double* Y) {
  const int H = L.radial[0].rows, Wp = L.Wp;
  const bool quant = m.quantizesActivations();
  gemm(L.radial[0].packed, X, kColumns, kColumns, Y, kColumns);
  activate(Y, H, quant ? &L.radialIn[1] : nullptr);
  gemm(L.radial[1].packed, Y, kColumns, kColumns, X, kColumns);
  activate(X, H, quant ? &L.radialIn[2] : nullptr);
  gemm(L.radial2Padded, X, kColumns, kColumns, Y, kColumns);
  const Lsq& out = L.radialOutPadded;
  if (quant) radialQuantize(Y, Wp, kColumns, kPairBatch, out.scale.data(), out.qmin, out.qmax, out.clipped);
  return Y;
}

void resizeScratch(const Model& m, const Layer& L, std::vector<double>& X, std::vector<double>& Y) {
  const int rows = std::max({m.numBasis, L.radial[0].rows, L.Wp});
  X.resize(static_cast<size_t>(rows) * kColumns);
  Y.resize(static_cast<size_t>(rows) * kColumns);
}

bool isPadding(const Model& m, int r) { return r % m.Cp >= m.channels; }

/// The exact MLP for `count` inputs q: e = basis[q K ..], de = dbasis[..], f = env[q], df = denv[q];
/// writes w, dw (count rows of ld Wp).
void radialExact(const Model& m, const Layer& L, int count, const double* basis, const double* dbasis,
                 const double* env, const double* denv, double* wOut, double* dwOut) {
  const int K = m.numBasis, Wp = L.Wp;
  thread_local std::vector<double> X, Y;
  resizeScratch(m, L, X, Y);
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
        if (m.quantizesEdgeBasis) {
          double mask;
          const Lsq& q = L.radialIn[0];
          v = math::lsqFakeQuant(v, q.scale[k], q.qmin, q.qmax, &mask, q.clipped);
          t *= mask;
        }
        X[k * kColumns + b] = v;
        X[k * kColumns + kPairBatch + b] = t;
      }
    const double* out = mlpBatch(m, L, X.data(), Y.data());
    for (int b = 0; b < B; ++b) {
      double* w = wOut + static_cast<size_t>(q0 + b) * Wp;
      double* dw = dwOut + static_cast<size_t>(q0 + b) * Wp;
      for (int r = 0; r < Wp; ++r) {
        w[r] = isPadding(m, r) ? 0.0 : out[r * kColumns + b];
        dw[r] = isPadding(m, r) ? 0.0 : out[r * kColumns + kPairBatch + b];
      }
    }
  }
}

}  // namespace

// --- w4a8: the MLP per input code vector (State.h, RadialCache) ---

namespace {

constexpr size_t kCacheBytesPerLayer = size_t{64} << 20;  // a layer needing more keeps the per-pair MLP
constexpr int kNotCacheable = -2;                          // pairEntry of a pair computed exactly

/// Slot of a key in a table of `size` (a power of two) slots: every key bit reaches the low bits
/// (the keys differ mostly in single bytes).
size_t slotOf(uint64_t key, size_t size) {
  key ^= key >> 33;
  key *= 0xff51afd7ed558ccdull;
  key ^= key >> 33;
  key *= 0xc4ceb9fe1a85ec53ull;
  key ^= key >> 33;
  return static_cast<size_t>(key) & (size - 1);
}

/// The input codes of one pair and their masked tangents t (K); false if a code is not finite.
bool inputCodes(const Lsq& q, int K, const double* e, const double* de, double env, double denv, uint64_t* key,
                double* t) {
  *key = 0;
  for (int k = 0; k < K; ++k) {
    const double w = (e[k] * env) / q.scale[k];
    if (!(w == w)) return false;
    const double code = math::clampd(math::roundHalfEven(w), q.qmin, q.qmax);
    const double mask = math::lsqSteMask(w, q.qmin, q.qmax, q.clipped);
    *key |= static_cast<uint64_t>(code - q.qmin) << (8 * k);
    t[k] = (de[k] * env + e[k] * denv) * mask;
  }
  return true;
}

/// Fills entry `index` of the cache from its key: the values are the dequantized codes (as
/// lsqFakeQuant gives them) in every value column, the tangents the unit vectors, so tangent
/// column k comes out as J's row k.
void computeEntry(const Model& m, const Layer& L, RadialCache& cache, int index) {
  const int K = m.numBasis, Wp = L.Wp;
  const Lsq& q = L.radialIn[0];
  thread_local std::vector<double> X, Y;
  resizeScratch(m, L, X, Y);
  const uint64_t key = cache.entryKey[index];
  for (int k = 0; k < K; ++k) {
    const double code = static_cast<double>((key >> (8 * k)) & 0xFF) + q.qmin;
    for (int b = 0; b < kPairBatch; ++b) {
      X[k * kColumns + b] = code * q.scale[k];
      X[k * kColumns + kPairBatch + b] = b == k ? 1.0 : 0.0;
    }
  }
  const double* out = mlpBatch(m, L, X.data(), Y.data());
  double* entry = &cache.entries[static_cast<size_t>(index) * (K + 1) * Wp];
  for (int r = 0; r < Wp; ++r) entry[r] = isPadding(m, r) ? 0.0 : out[r * kColumns];
  for (int k = 0; k < K; ++k)
    for (int r = 0; r < Wp; ++r)
      entry[static_cast<size_t>(k + 1) * Wp + r] = isPadding(m, r) ? 0.0 : out[r * kColumns + kPairBatch + k];
}

}  // namespace

void RadialCache::clear() {
  slotKey.clear(), slotEntry.clear(), entryKey.clear(), entries.clear();
}

int RadialCache::find(uint64_t key) const {
  if (slotEntry.empty()) return -1;
  const size_t mask = slotEntry.size() - 1;
  for (size_t i = slotOf(key, slotEntry.size());; i = (i + 1) & mask) {
    if (slotEntry[i] < 0) return -1;
    if (slotKey[i] == key) return slotEntry[i];
  }
}

int RadialCache::insert(uint64_t key) {
  const int index = count();
  entryKey.push_back(key);
  if (2 * entryKey.size() > slotEntry.size()) {  // keep the load at most 1/2
    size_t size = 1024;
    while (size < 4 * entryKey.size()) size *= 2;
    slotKey.assign(size, 0), slotEntry.assign(size, -1);
    for (int e = 0; e < count(); ++e) place(entryKey[e], e);
  } else {
    place(key, index);
  }
  return index;
}

void RadialCache::place(uint64_t key, int entry) {
  const size_t mask = slotEntry.size() - 1;
  size_t i = slotOf(key, slotEntry.size());
  while (slotEntry[i] >= 0) i = (i + 1) & mask;
  slotKey[i] = key, slotEntry[i] = entry;
}

bool radialCacheable(const Model& m, const Layer& L) {
  const Lsq& q = L.radialIn[0];
  return m.quantizesEdgeBasis && m.tablePoints == 0 && m.numBasis <= kPairBatch &&
         m.numBasis <= 8 &&  // one key byte per code
         q.qmin == std::floor(q.qmin) && q.qmax == std::floor(q.qmax) && q.qmin <= q.qmax && q.qmax - q.qmin <= 255.0;
}

namespace {

/// The key of a pair at distance d (false: not cacheable).
bool keyAt(const Model& m, const Layer& L, double d, uint64_t* key) {
  constexpr int kMaxBasis = 8;  // radialCacheable
  double e[kMaxBasis], de[kMaxBasis], t[kMaxBasis], denv;
  math::besselBasis(d, m.cutoff, m.frequencies.data(), m.numBasis, e, de);
  const double env = math::polynomialEnvelope(d, m.cutoff, m.cutoffP, &denv);
  return inputCodes(L.radialIn[0], m.numBasis, e, de, env, denv, key, t);
}

/// Adds to the cache every key met on (d0, d1], bisecting wherever the keys at the two ends differ
/// (down to a width of 1e-9 r_c), so that narrow intervals between wider ones are found too.
void collectKeys(const Model& m, const Layer& L, double d0, uint64_t key0, double d1, uint64_t key1,
                 RadialCache& cache) {
  if (cache.find(key1) < 0) cache.insert(key1);
  if (key0 == key1 || d1 - d0 < 1e-9 * m.cutoff) return;
  const double mid = 0.5 * (d0 + d1);
  uint64_t keyMid;
  if (!keyAt(m, L, mid, &keyMid)) return;
  collectKeys(m, L, d0, key0, mid, keyMid, cache);
  collectKeys(m, L, mid, keyMid, d1, key1, cache);
}

/// Fills an empty cache with the code vectors of distances 0 < d < r_c (a grid of 2^14 points
/// refined by collectKeys), so that MD does not meet new code vectors step after step; the few
/// that this misses are computed when met.
void prefill(const Model& m, const Layer& L, RadialCache& cache, int threads) {
  constexpr int kGrid = 1 << 14;
  const double h = m.cutoff / kGrid;
  uint64_t previous = 0;
  bool havePrevious = false;
  for (int i = 1; i < kGrid; ++i) {
    uint64_t key;
    if (!keyAt(m, L, i * h, &key)) {
      havePrevious = false;
      continue;
    }
    if (havePrevious) collectKeys(m, L, (i - 1) * h, previous, i * h, key, cache);
    else if (cache.find(key) < 0) cache.insert(key);
    previous = key, havePrevious = true;
  }
  const size_t entrySize = static_cast<size_t>(m.numBasis + 1) * L.Wp;
  if (cache.count() * entrySize * sizeof(double) > kCacheBytesPerLayer) {
    cache.clear();
    cache.disabled = true;
    return;
  }
  cache.entries.resize(static_cast<size_t>(cache.count()) * (m.numBasis + 1) * L.Wp);
  parallelFor(cache.count(), threads, [&](int begin, int end) {
    for (int e = begin; e < end; ++e) computeEntry(m, L, cache, e);
  });
}

}  // namespace

void radialCached(const Model& m, int layer, LayerState& ls, State& s, int threads) {
  const Layer& L = m.layers[layer];
  const int P = s.list->numPairs(), K = m.numBasis, Wp = L.Wp;
  const size_t entrySize = static_cast<size_t>(K + 1) * Wp;
  s.radialCache.resize(m.layers.size());
  RadialCache& cache = s.radialCache[layer];
  if (cache.count() == 0 && !cache.disabled) prefill(m, L, cache, threads);
  if (cache.disabled) {
    ls.w.resize(static_cast<size_t>(P) * Wp), ls.dw.resize(static_cast<size_t>(P) * Wp);
    parallelFor(P, threads, [&](int begin, int end) { radialForward(m, L, ls, s, begin, end); });
    return;
  }
  s.pairKey.resize(P), s.pairEntry.resize(P), s.pairTangent.resize(static_cast<size_t>(P) * K);
  parallelFor(P, threads, [&](int begin, int end) {
    for (int p = begin; p < end; ++p) {
      const bool finite = inputCodes(L.radialIn[0], K, &s.basis[p * K], &s.dbasis[p * K], s.env[p], s.denv[p],
                                     &s.pairKey[p], &s.pairTangent[static_cast<size_t>(p) * K]);
      s.pairEntry[p] = finite ? cache.find(s.pairKey[p]) : kNotCacheable;
    }
  });
  const int known = cache.count();
  for (int p = 0; p < P; ++p)
    if (s.pairEntry[p] == -1) {
      const int found = cache.find(s.pairKey[p]);
      s.pairEntry[p] = found >= 0 ? found : cache.insert(s.pairKey[p]);
    }
  cache.entries.resize(cache.count() * entrySize);
  parallelFor(cache.count() - known, threads, [&](int begin, int end) {
    for (int e = known + begin; e < known + end; ++e) computeEntry(m, L, cache, e);
  });
  ls.w.resize(static_cast<size_t>(P) * Wp), ls.dw.resize(static_cast<size_t>(P) * Wp);
  parallelFor(P, threads, [&](int begin, int end) {
    for (int p = begin; p < end; ++p) {
      double* w = &ls.w[static_cast<size_t>(p) * Wp];
      double* dw = &ls.dw[static_cast<size_t>(p) * Wp];
      if (s.pairEntry[p] == kNotCacheable) {
        radialExact(m, L, 1, &s.basis[p * K], &s.dbasis[p * K], &s.env[p], &s.denv[p], w, dw);
        continue;
      }
      const double* entry = &cache.entries[s.pairEntry[p] * entrySize];
      std::copy(entry, entry + Wp, w);
      jacobianApply(entry + Wp, K, Wp, &s.pairTangent[static_cast<size_t>(p) * K], dw);
    }
  });
}

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
