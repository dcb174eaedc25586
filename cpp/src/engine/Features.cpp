// Per-node and per-edge building blocks: linear maps, quantizers, gate, tensor product.

#include <algorithm>
#include <cmath>

#include "gaqmd/engine/State.h"
#include "gaqmd/math/activations.h"
#include "gaqmd/math/frames.h"
#include "gaqmd/math/quant.h"
#include "gaqmd/math/sph.h"

namespace gaqmd {

void Matrix::apply(const double* x, double* y, bool accumulate) const {
  for (int r = 0; r < rows; ++r) {
    const double* row = a.data() + static_cast<size_t>(r) * cols;
    double sum = 0.0;
    for (int c = 0; c < cols; ++c) sum += row[c] * x[c];
    y[r] = accumulate ? y[r] + sum : sum;
  }
}

void Matrix::applyTransposedAdd(const double* gy, double* gx) const {
  for (int r = 0; r < rows; ++r) {
    const double* row = a.data() + static_cast<size_t>(r) * cols;
    const double g = gy[r];
    for (int c = 0; c < cols; ++c) gx[c] += row[c] * g;
  }
}

void Matrix::pack() {
  packMatrix(a.data(), rows, cols, packed);
  std::vector<double> t(a.size());
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) t[static_cast<size_t>(c) * rows + r] = a[static_cast<size_t>(r) * cols + c];
  packMatrix(t.data(), cols, rows, packedT);
}

void Irreps::setTransposed(int Cp) {
  offsetT.resize(mul.size());
  dimT = 0;
  for (size_t b = 0; b < mul.size(); ++b) {
    offsetT[b] = dimT;
    dimT += (2 * l[b] + 1) * Cp;
  }
}

void Irreps::toTransposed(const double* x, double* xT, int Cp) const {
  for (size_t b = 0; b < mul.size(); ++b) {
    const int d = 2 * l[b] + 1, n = mul[b];
    const double* in = x + offset[b];
    double* out = xT + offsetT[b];
    for (int m = 0; m < d; ++m) {
      for (int u = 0; u < n; ++u) out[m * Cp + u] = in[u * d + m];
      for (int u = n; u < Cp; ++u) out[m * Cp + u] = 0.0;
    }
  }
}

void Irreps::fromTransposed(const double* xT, double* x, int Cp, bool accumulate) const {
  for (size_t b = 0; b < mul.size(); ++b) {
    const int d = 2 * l[b] + 1, n = mul[b];
    const double* in = xT + offsetT[b];
    double* out = x + offset[b];
    for (int u = 0; u < n; ++u)
      for (int m = 0; m < d; ++m) out[u * d + m] = accumulate ? out[u * d + m] + in[m * Cp + u] : in[m * Cp + u];
  }
}

TpPlan makeTpPlan(const std::vector<double>& cg, int lIn, int lSh, int lOut, int inOffsetT, int midOffsetT) {
  TpPlan P;
  P.d1 = 2 * lIn + 1, P.d2 = 2 * lSh + 1, P.d3 = 2 * lOut + 1;
  P.shOffset = lSh * lSh;
  P.inOffsetT = inOffsetT, P.midOffsetT = midOffsetT;
  std::vector<int> entry(P.d1 * P.d3, -1);
  for (int a = 0; a < P.d1; ++a)
    for (int b = 0; b < P.d2; ++b)
      for (int k = 0; k < P.d3; ++k) {
        const double coef = cg[(a * P.d2 + b) * P.d3 + k];
        if (coef != 0.0) P.terms.push_back({a, b, k, coef}), entry[a * P.d3 + k] = 0;
      }
  P.kStart.assign(P.d3 + 1, 0);
  for (int k = 0; k < P.d3; ++k) {
    for (int a = 0; a < P.d1; ++a)
      if (entry[a * P.d3 + k] >= 0) {
        entry[a * P.d3 + k] = static_cast<int>(P.akA.size());
        P.akA.push_back(a), P.akK.push_back(k);
      }
    P.kStart[k + 1] = static_cast<int>(P.akA.size());
  }
  P.aStart.assign(P.d1 + 1, 0);
  for (int a = 0; a < P.d1; ++a) {
    for (int k = 0; k < P.d3; ++k)
      if (entry[a * P.d3 + k] >= 0) P.byA.push_back(entry[a * P.d3 + k]);
    P.aStart[a + 1] = static_cast<int>(P.byA.size());
  }
  for (const TpTerm& t : P.terms) P.termAk.push_back(entry[t.a * P.d3 + t.k]);
  P.kernel = tpKernelKind(P);
  return P;
}

namespace {

constexpr int kAtomBatch = 16;  // atoms per GEMM: columns (atom, m), padded to kColumnPad
int paddedColumns(int n) { return (n + kColumnPad - 1) / kColumnPad * kColumnPad; }

/// One path over atoms [0, nb) (nb <= kAtomBatch): out block (+)= A in block, A = W or Wᵀ packed.
void pathBatch(const PackedMatrix& A, int d, const double* in, int ldIn, int offIn, int nb, double* out, int ldOut,
               int offOut, bool add) {
  thread_local std::vector<double> X, Y;
  const int cols = nb * d, N = paddedColumns(cols);
  X.resize(static_cast<size_t>(A.cols) * N);
  Y.resize(static_cast<size_t>(A.rows) * N);
  for (int u = 0; u < A.cols; ++u) {
    double* x = &X[static_cast<size_t>(u) * N];
    for (int i = 0; i < nb; ++i)
      for (int m = 0; m < d; ++m) x[i * d + m] = in[static_cast<size_t>(i) * ldIn + offIn + u * d + m];
    for (int c = cols; c < N; ++c) x[c] = 0.0;
  }
  gemm(A, X.data(), N, N, Y.data(), N);
  for (int v = 0; v < A.rows; ++v) {
    const double* y = &Y[static_cast<size_t>(v) * N];
    for (int i = 0; i < nb; ++i)
      for (int m = 0; m < d; ++m) {
        double& o = out[static_cast<size_t>(i) * ldOut + offOut + v * d + m];
        o = add ? o + y[i * d + m] : y[i * d + m];
      }
  }
}

}  // namespace

void linearBatch(const EquiLinear& L, const double* in, int ldIn, int n, double* out, int ldOut, bool accumulate) {
  for (int i0 = 0; i0 < n; i0 += kAtomBatch) {
    const int nb = std::min(kAtomBatch, n - i0);
    const double* inB = in + static_cast<size_t>(i0) * ldIn;
    double* outB = out + static_cast<size_t>(i0) * ldOut;
    std::vector<char> written(L.out.size(), accumulate ? 1 : 0);
    for (size_t p = 0; p < L.w.size(); ++p) {
      const int bin = L.blockIn[p], bout = L.blockOut[p], d = 2 * L.in.l[bin] + 1;
      pathBatch(L.w[p].packed, d, inB, ldIn, L.in.offset[bin], nb, outB, ldOut, L.out.offset[bout], written[bout]);
      written[bout] = 1;
    }
    for (int b = 0; b < L.out.size(); ++b)
      if (!written[b])
        for (int i = 0; i < nb; ++i)
          std::fill_n(outB + static_cast<size_t>(i) * ldOut + L.out.offset[b], L.out.mul[b] * (2 * L.out.l[b] + 1), 0.0);
  }
}

void linearTransposedAddBatch(const EquiLinear& L, const double* gout, int ldOut, int n, double* gin, int ldIn) {
  for (int i0 = 0; i0 < n; i0 += kAtomBatch) {
    const int nb = std::min(kAtomBatch, n - i0);
    for (size_t p = 0; p < L.w.size(); ++p) {
      const int bin = L.blockIn[p], bout = L.blockOut[p], d = 2 * L.in.l[bin] + 1;
      pathBatch(L.w[p].packedT, d, gout + static_cast<size_t>(i0) * ldOut, ldOut, L.out.offset[bout], nb,
                gin + static_cast<size_t>(i0) * ldIn, ldIn, L.in.offset[bin], true);
    }
  }
}

double inverseNorm(const double* v, int n) {
  double sq = 0.0;
  for (int k = 0; k < n; ++k) sq += v[k] * v[k];
  return 1.0 / std::sqrt(sq + 1e-12);
}

void lsqVector(const Lsq& q, const double* x, int n, double* xq) {
  for (int k = 0; k < n; ++k) xq[k] = math::lsqFakeQuant(x[k], q.scale[k], q.qmin, q.qmax, nullptr);
}

void lsqMaskGrad(const Lsq& q, const double* x, int n, double* g) {
  for (int k = 0; k < n; ++k) {
    double mask;
    math::lsqFakeQuant(x[k], q.scale[k], q.qmin, q.qmax, &mask, q.clipped);
    g[k] *= mask;
  }
}

namespace {

void mddqForward(const Model& m, const Mddq& q, int mul, const double* x, double* xq, MddqState& st, int atom,
                 const double* frame) {
  // Directions (in the frame) of the nonzero vectors, looked up together (Codebook::nearestBatch).
  thread_local std::vector<double> dirs, winners;
  thread_local std::vector<int> found;
  dirs.assign(3 * static_cast<size_t>(mul), 0.0);
  winners.resize(3 * static_cast<size_t>(mul));
  found.resize(mul);
  for (int u = 0; u < mul; ++u) {
    const double* v = x + 3 * u;
    const double mag = math::norm3(v);
    if (!(mag >= m.zeroThreshold) || mag == 0.0) continue;
    const double dir[3] = {v[0] / mag, v[1] / mag, v[2] / mag};
    if (frame) math::frameApply(frame, dir, &dirs[3 * u]);
    else std::copy(dir, dir + 3, &dirs[3 * u]);
  }
  m.codebook->nearestBatch(dirs.data(), mul, found.data(), winners.data());
  for (int u = 0; u < mul; ++u) {
    const size_t k = static_cast<size_t>(atom) * mul + u;
    const double* v = x + 3 * u;
    const double mag = math::norm3(v);
    st.m[k] = mag;
    st.zero[k] = !(mag >= m.zeroThreshold) || mag == 0.0;
    double* c = &st.c[3 * k];
    if (st.zero[k]) {
      c[0] = c[1] = c[2] = 0.0;
      st.mHat[k] = 0.0;
      st.inRange[k] = 0.0;
    } else {
      const double logMin = q.logDomain ? q.logMin[u] : 0.0;
      st.mHat[k] = math::mddqMagnitude(mag, q.scale[u], q.qmax, q.logDomain, logMin, &st.inRange[k]);
      const double* p = &winners[3 * u];  // = m.codebook->point(found[u])
      if (frame) {
        math::frameApplyTransposed(frame, p, c);
      } else {
        c[0] = p[0], c[1] = p[1], c[2] = p[2];
      }
    }
    for (int a = 0; a < 3; ++a) xq[3 * u + a] = st.mHat[k] * c[a];
  }
}

/// Kind mddq-fp16: v̂ = m̂ half(u) per (atom, channel) d-vector (d = 2l + 1), m and u as PyTorch's
/// polar (squares summed in component order, u = v / m).
void mddqFp16Forward(const Model& m, const Mddq& q, int mul, int d, const double* x, double* xq, MddqState& st,
                     int atom) {
  for (int u = 0; u < mul; ++u) {
    const size_t k = static_cast<size_t>(atom) * mul + u;
    const double* v = x + d * u;
    double sq = v[0] * v[0];
    for (int a = 1; a < d; ++a) sq += v[a] * v[a];
    const double mag = std::sqrt(sq);
    st.m[k] = mag;
    st.zero[k] = !(mag >= m.zeroThreshold) || mag == 0.0;
    double* c = &st.c[static_cast<size_t>(d) * k];
    if (st.zero[k]) {
      for (int a = 0; a < d; ++a) c[a] = 0.0;
      st.mHat[k] = 0.0;
      st.inRange[k] = 0.0;
    } else {
      const double logMin = q.logDomain ? q.logMin[u] : 0.0;
      st.mHat[k] = math::mddqMagnitude(mag, q.scale[u], q.qmax, q.logDomain, logMin, &st.inRange[k]);
      for (int a = 0; a < d; ++a) c[a] = math::roundToHalf(v[a] / mag);
    }
    for (int a = 0; a < d; ++a) xq[d * u + a] = st.mHat[k] * c[a];
  }
}

/// One block (mul channels of dimension d, x and xq at the block's start) of quantizeIrreps.
void quantizeBlock(const Model& m, const IrrepsQuant& q, int b, int mul, int d, const double* x, double* xq,
                   MddqState& st, int atom, const double* frame) {
  switch (q.kind[b]) {
    case BlockKind::Lsq:
      lsqVector(q.lsq[b], x, mul, xq);
      break;
    case BlockKind::Mddq:
      mddqForward(m, q.mddq[b], mul, x, xq, st, atom, m.localFrames ? frame : nullptr);
      break;
    case BlockKind::Int8: {
      const Lsq& lq = q.lsq[b];
      for (int u = 0; u < mul; ++u)
        for (int a = 0; a < d; ++a) xq[d * u + a] = math::lsqFakeQuant(x[d * u + a], lq.scale[u], lq.qmin, lq.qmax, nullptr);
      break;
    }
    case BlockKind::MddqFp16:
      mddqFp16Forward(m, q.mddq[b], mul, d, x, xq, st, atom);
      break;
    case BlockKind::Fp16:
      for (int k = 0; k < mul * d; ++k) xq[k] = math::roundToHalf(x[k]);
      break;
  }
}

void quantizeBlockBackward(const IrrepsQuant& q, int b, int mul, int d, const double* x, const double* g,
                           const MddqState& s, int atom, double* gx) {
  switch (q.kind[b]) {
    case BlockKind::Lsq:
      std::copy(g, g + mul, gx);
      lsqMaskGrad(q.lsq[b], x, mul, gx);
      break;
    case BlockKind::Mddq:
      for (int u = 0; u < mul; ++u) {
        const size_t k = static_cast<size_t>(atom) * mul + u;
        math::geometricSte(g + 3 * u, x + 3 * u, s.m[k], s.mHat[k], &s.c[3 * k], s.inRange[k], s.zero[k] != 0,
                           gx + 3 * u);
      }
      break;
    case BlockKind::Int8: {
      const Lsq& lq = q.lsq[b];
      for (int u = 0; u < mul; ++u)
        for (int a = 0; a < d; ++a) {
          double mask;
          math::lsqFakeQuant(x[d * u + a], lq.scale[u], lq.qmin, lq.qmax, &mask, lq.clipped);
          gx[d * u + a] = g[d * u + a] * mask;
        }
      break;
    }
    case BlockKind::MddqFp16:
      for (int u = 0; u < mul; ++u) {
        const size_t k = static_cast<size_t>(atom) * mul + u;
        math::geometricSteN(g + d * u, x + d * u, s.m[k], s.mHat[k], &s.c[static_cast<size_t>(d) * k], s.inRange[k],
                            s.zero[k] != 0, d, gx + d * u);
      }
      break;
    case BlockKind::Fp16:
      std::copy(g, g + mul * d, gx);
      break;
  }
}

/// out (mul, 5) = D in per channel (transposed: Dᵀ in), D the l = 2 rotation of a local frame.
void rotateL2(const double* D, bool transposed, int mul, const double* in, double* out) {
  for (int u = 0; u < mul; ++u) math::wigner2Apply(D, transposed, in + 5 * u, out + 5 * u);
}

}  // namespace

void quantizeIrreps(const Model& m, const IrrepsQuant& q, const Irreps& irreps, const double* x, double* xq,
                    std::vector<MddqState>& st, int atom, const double* frame) {
  thread_local std::vector<double> local, localQ;
  for (int b = 0; b < irreps.size(); ++b) {
    const int off = irreps.offset[b], mul = irreps.mul[b], d = 2 * irreps.l[b] + 1;
    if (!q.local[b]) {
      quantizeBlock(m, q, b, mul, d, x + off, xq + off, st[b], atom, frame);
      continue;
    }
    // x̂ = Dᵀ q(D x): the block is quantized in the atom's frame (docs/format.md, "Local frame")
    double D[25];
    math::wigner2FromFrame(frame, D);
    local.resize(static_cast<size_t>(mul) * d), localQ.resize(static_cast<size_t>(mul) * d);
    rotateL2(D, false, mul, x + off, local.data());
    quantizeBlock(m, q, b, mul, d, local.data(), localQ.data(), st[b], atom, frame);
    rotateL2(D, true, mul, localQ.data(), xq + off);
  }
}

void quantizeIrrepsBackward(const IrrepsQuant& q, const Irreps& irreps, const double* x, const double* g,
                            const std::vector<MddqState>& st, int atom, const double* frame, double* gx) {
  thread_local std::vector<double> local, localG, localGx;
  for (int b = 0; b < irreps.size(); ++b) {
    const int off = irreps.offset[b], mul = irreps.mul[b], d = 2 * irreps.l[b] + 1;
    if (!q.local[b]) {
      quantizeBlockBackward(q, b, mul, d, x + off, g + off, st[b], atom, gx + off);
      continue;
    }
    // d x̂ / dx = Dᵀ J D with the frame held constant, so gx = Dᵀ Jᵀ (D g)
    double D[25];
    math::wigner2FromFrame(frame, D);
    const size_t size = static_cast<size_t>(mul) * d;
    local.resize(size), localG.resize(size), localGx.resize(size);
    rotateL2(D, false, mul, x + off, local.data());
    rotateL2(D, false, mul, g + off, localG.data());
    quantizeBlockBackward(q, b, mul, d, local.data(), localG.data(), st[b], atom, localGx.data());
    rotateL2(D, true, mul, localGx.data(), gx + off);
  }
}

void gateForward(const Layer& L, const double* g, double* y) {
  const int C = L.out.mul[0];
  for (int c = 0; c < C; ++c) y[c] = L.scalarActScale * math::silu(g[c]);
  int gate = C;
  for (int b = 1; b < L.out.size(); ++b) {
    const int d = 2 * L.out.l[b] + 1;
    for (int u = 0; u < L.out.mul[b]; ++u, ++gate) {
      const double s = L.gateActScale * math::sigmoid(g[gate]);
      for (int mm = 0; mm < d; ++mm) y[L.out.offset[b] + u * d + mm] = s * g[L.gate.offset[b] + u * d + mm];
    }
  }
}

void gateBackward(const Layer& L, const double* g, const double* gy, double* gg) {
  const int C = L.out.mul[0];
  for (int c = 0; c < C; ++c) gg[c] = gy[c] * L.scalarActScale * math::siluGrad(g[c]);
  int gate = C;
  for (int b = 1; b < L.out.size(); ++b) {
    const int d = 2 * L.out.l[b] + 1;
    for (int u = 0; u < L.out.mul[b]; ++u, ++gate) {
      const double s = L.gateActScale * math::sigmoid(g[gate]);
      double along = 0.0;
      for (int mm = 0; mm < d; ++mm) {
        const int o = L.out.offset[b] + u * d + mm, i = L.gate.offset[b] + u * d + mm;
        gg[i] = s * gy[o];
        along += gy[o] * g[i];
      }
      gg[gate] = along * L.gateActScale * math::sigmoidGrad(g[gate]);
    }
  }
}

void edgeSh(const State& s, int lMax, int e, double* Y) {
  const int dim = math::shDim(lMax), p = s.list->pair[e];
  const double sign = s.list->sign[e];
  for (int k = 0; k < dim; ++k) {
    const int l = k == 0 ? 0 : (k < 4 ? 1 : 2);
    Y[k] = (l % 2 == 1 ? sign : 1.0) * s.Y[static_cast<size_t>(p) * dim + k];
  }
}

}  // namespace gaqmd
