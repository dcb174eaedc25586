#pragma once
// Weight access for the small GEMMs: dense fp32 matrices, or int4 codes dequantized on the fly
// (the "int4-dequantizing GEMM": codes stay packed in device memory, 8x smaller than float32).

#include "gaqmd/cuda/Layout.h"
#include "gaqmd/math/quant.h"

namespace gaqmd::cuda {

/// A[r, c] = alpha · W[r, c] in the matrix's storage form (Layout.h, MatrixRef).
template <typename Real>
GAQMD_HD inline Real weightAt(const Params<Real>& P, const MatrixRef& A, int r, int c) {
  if (A.dense >= 0) return P.values[A.dense + r * A.cols + c];
  const int64_t k = static_cast<int64_t>(r) * A.cols + c;
  const Real code = static_cast<Real>(math::unpackInt4(P.codes + A.code, k));
  return code * P.scales[A.scale + r * A.groups + c / A.group] * static_cast<Real>(A.alpha);
}

/// Σ_c A[r, c] x[c stride] (one output row of y = A x).
template <typename Real>
GAQMD_HD inline Real rowDot(const Params<Real>& P, const MatrixRef& A, int r, const Real* x, int stride = 1) {
  Real sum = 0;
  for (int c = 0; c < A.cols; ++c) sum += weightAt(P, A, r, c) * x[c * stride];
  return sum;
}

/// Σ_r A[r, c] g[r stride] (one output column of Aᵀ g).
template <typename Real>
GAQMD_HD inline Real columnDot(const Params<Real>& P, const MatrixRef& A, int c, const Real* g, int stride = 1) {
  Real sum = 0;
  for (int r = 0; r < A.rows; ++r) sum += weightAt(P, A, r, c) * g[r * stride];
  return sum;
}

/// The block of `blocks` that holds flat index o.
GAQMD_HD inline int blockOf(const Blocks& blocks, int o) {
  int b = 0;
  while (b + 1 < blocks.count && o >= blocks.offset[b + 1]) ++b;
  return b;
}

/// Element o of L x for one atom (x in L's input layout `in`, o in its output layout `out`).
template <typename Real>
GAQMD_HD inline Real linearElement(const Params<Real>& P, const LinearRef& L, const Blocks& in, const Blocks& out,
                                   const Real* x, int o) {
  const int b = blockOf(out, o), d = 2 * out.l[b] + 1, v = (o - out.offset[b]) / d, m = (o - out.offset[b]) % d;
  Real sum = 0;
  for (int p = 0; p < L.count; ++p)
    if (L.blockOut[p] == b) sum += rowDot(P, L.w[p], v, x + in.offset[L.blockIn[p]] + m, d);
  return sum;
}

/// Element o (in L's input layout) of Lᵀ g for one atom (g in L's output layout).
template <typename Real>
GAQMD_HD inline Real linearTransposedElement(const Params<Real>& P, const LinearRef& L, const Blocks& in,
                                             const Blocks& out, const Real* g, int o) {
  const int b = blockOf(in, o), d = 2 * in.l[b] + 1, u = (o - in.offset[b]) / d, m = (o - in.offset[b]) % d;
  Real sum = 0;
  for (int p = 0; p < L.count; ++p)
    if (L.blockIn[p] == b) sum += columnDot(P, L.w[p], u, g + out.offset[L.blockOut[p]] + m, d);
  return sum;
}

}  // namespace gaqmd::cuda
