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

void Matrix::applyBatch(const double* X, int B, double* Y) const {
  for (int r = 0; r < rows; ++r) {
    const double* row = a.data() + static_cast<size_t>(r) * cols;
    double* y = Y + static_cast<size_t>(r) * B;
    std::fill(y, y + B, 0.0);
    for (int c = 0; c < cols; ++c) {
      const double w = row[c];
      const double* x = X + static_cast<size_t>(c) * B;
      for (int b = 0; b < B; ++b) y[b] += w * x[b];
    }
  }
}

void Matrix::applyTransposedAddBatch(const double* gY, int B, double* gX) const {
  for (int r = 0; r < rows; ++r) {
    const double* row = a.data() + static_cast<size_t>(r) * cols;
    const double* g = gY + static_cast<size_t>(r) * B;
    for (int c = 0; c < cols; ++c) {
      const double w = row[c];
      double* x = gX + static_cast<size_t>(c) * B;
      for (int b = 0; b < B; ++b) x[b] += w * g[b];
    }
  }
}

void linearApply(const EquiLinear& L, const double* in, double* out, bool accumulate) {
  if (!accumulate) std::fill(out, out + L.out.dim, 0.0);
  for (size_t p = 0; p < L.w.size(); ++p) {
    const int bin = L.blockIn[p], bout = L.blockOut[p], d = 2 * L.in.l[bin] + 1;
    const Matrix& W = L.w[p];
    const double* x = in + L.in.offset[bin];
    double* y = out + L.out.offset[bout];
    for (int v = 0; v < W.rows; ++v)
      for (int mm = 0; mm < d; ++mm) {
        double sum = 0.0;
        for (int u = 0; u < W.cols; ++u) sum += W.a[v * W.cols + u] * x[u * d + mm];
        y[v * d + mm] += sum;
      }
  }
}

void linearTransposedAdd(const EquiLinear& L, const double* gout, double* gin) {
  for (size_t p = 0; p < L.w.size(); ++p) {
    const int bin = L.blockIn[p], bout = L.blockOut[p], d = 2 * L.in.l[bin] + 1;
    const Matrix& W = L.w[p];
    const double* gy = gout + L.out.offset[bout];
    double* gx = gin + L.in.offset[bin];
    for (int v = 0; v < W.rows; ++v)
      for (int u = 0; u < W.cols; ++u) {
        const double a = W.a[v * W.cols + u];
        for (int mm = 0; mm < d; ++mm) gx[u * d + mm] += a * gy[v * d + mm];
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
    math::lsqFakeQuant(x[k], q.scale[k], q.qmin, q.qmax, &mask);
    g[k] *= mask;
  }
}

namespace {

void mddqForward(const Model& m, const Mddq& q, int mul, const double* x, double* xq, MddqState& st, int atom,
                 const double* frame) {
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
      const double dir[3] = {v[0] / mag, v[1] / mag, v[2] / mag};
      const double logMin = q.logDomain ? q.logMin[u] : 0.0;
      st.mHat[k] = math::mddqMagnitude(mag, q.scale[u], q.qmax, q.logDomain, logMin, &st.inRange[k]);
      if (frame) {
        double local[3];
        math::frameApply(frame, dir, local);
        math::frameApplyTransposed(frame, m.codebook->point(m.codebook->nearest(local)), c);
      } else {
        const double* p = m.codebook->point(m.codebook->nearest(dir));
        c[0] = p[0], c[1] = p[1], c[2] = p[2];
      }
    }
    for (int a = 0; a < 3; ++a) xq[3 * u + a] = st.mHat[k] * c[a];
  }
}

}  // namespace

void quantizeIrreps(const Model& m, const IrrepsQuant& q, const Irreps& irreps, const double* x, double* xq,
                    std::vector<MddqState>& st, int atom, const double* frame) {
  for (int b = 0; b < irreps.size(); ++b) {
    const int off = irreps.offset[b], mul = irreps.mul[b];
    if (irreps.l[b] == 0)
      lsqVector(q.lsq[b], x + off, mul, xq + off);
    else
      mddqForward(m, q.mddq[b], mul, x + off, xq + off, st[b], atom, frame);
  }
}

void quantizeIrrepsBackward(const IrrepsQuant& q, const Irreps& irreps, const double* x, const double* g,
                            const std::vector<MddqState>& st, int atom, double* gx) {
  for (int b = 0; b < irreps.size(); ++b) {
    const int off = irreps.offset[b], mul = irreps.mul[b];
    if (irreps.l[b] == 0) {
      std::copy(g + off, g + off + mul, gx + off);
      lsqMaskGrad(q.lsq[b], x + off, mul, gx + off);
      continue;
    }
    const MddqState& s = st[b];
    for (int u = 0; u < mul; ++u) {
      const size_t k = static_cast<size_t>(atom) * mul + u;
      math::geometricSte(g + off + 3 * u, x + off + 3 * u, s.m[k], s.mHat[k], &s.c[3 * k], s.inRange[k],
                         s.zero[k] != 0, gx + off + 3 * u);
    }
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

void tensorProduct(const Layer& L, int C, const double* xj, const double* Y, const double* w, double* m) {
  for (size_t p = 0; p < L.tp.size(); ++p) {
    const TpPath& t = L.tp[p];
    const int d1 = 2 * t.lIn + 1, d2 = 2 * t.lSh + 1, d3 = 2 * t.lOut + 1;
    const double* x = xj + L.in.offset[t.blockIn];
    const double* y = Y + t.lSh * t.lSh;
    double* out = m + L.mid.offset[t.blockMid];
    for (int u = 0; u < C; ++u)
      for (int k = 0; k < d3; ++k) {
        double sum = 0.0;
        for (int a = 0; a < d1; ++a)
          for (int b = 0; b < d2; ++b) sum += t.cg[(a * d2 + b) * d3 + k] * x[u * d1 + a] * y[b];
        out[u * d3 + k] = w[p * C + u] * sum;
      }
  }
}

void tensorProductBackward(const Layer& L, int C, const double* xj, const double* Y, const double* w,
                           const double* gm, double* gxj, double* gY, double* gw) {
  for (size_t p = 0; p < L.tp.size(); ++p) {
    const TpPath& t = L.tp[p];
    const int d1 = 2 * t.lIn + 1, d2 = 2 * t.lSh + 1, d3 = 2 * t.lOut + 1;
    const double* x = xj + L.in.offset[t.blockIn];
    const double* y = Y + t.lSh * t.lSh;
    const double* g = gm + L.mid.offset[t.blockMid];
    for (int u = 0; u < C; ++u) {
      const double wu = w[p * C + u];
      double gwSum = 0.0;
      for (int a = 0; a < d1; ++a)
        for (int b = 0; b < d2; ++b) {
          double cgG = 0.0;  // Σ_k cg[a, b, k] g[u, k]
          for (int k = 0; k < d3; ++k) cgG += t.cg[(a * d2 + b) * d3 + k] * g[u * d3 + k];
          if (gxj) gxj[L.in.offset[t.blockIn] + u * d1 + a] += wu * y[b] * cgG;
          if (gY) gY[t.lSh * t.lSh + b] += wu * x[u * d1 + a] * cgG;
          gwSum += x[u * d1 + a] * y[b] * cgG;
        }
      if (gw) gw[p * C + u] += gwSum;
    }
  }
}

}  // namespace gaqmd
