#pragma once
// Engine-internal: the vectorized inner kernels (Kernels.cpp, the only file compiled with the SIMD
// flags of GAQMD_ENGINE_AVX2): register-blocked GEMM on row-panel-packed matrices and the
// channel-vectorized tensor product of one edge. Every output column / channel is computed by the
// same instruction sequence whatever its position in a batch, so results do not depend on how
// pairs or atoms are batched or split between threads.

#include <vector>

namespace gaqmd {

/// Channel padding of the transposed (component-major) feature layouts: multiple of every vector
/// width the kernels may use.
constexpr int kChannelPad = 8;
inline int paddedChannels(int C) { return (C + kChannelPad - 1) / kChannelPad * kChannelPad; }

/// Columns per GEMM call must be a multiple of this (the widest vector the kernels may use).
constexpr int kColumnPad = 16;

/// "avx2+fma" or "sse2" (what Kernels.cpp was compiled for); and whether this CPU can run it.
const char* kernelIsa();
bool kernelIsaSupported();

/// A (rows, cols) packed in panels of kernelRowBlock() rows: panel q holds, for each c, the rows
/// q·MR .. q·MR+MR-1 of column c (zero rows past the end).
struct PackedMatrix {
  int rows = 0, cols = 0;
  std::vector<double> panels;
};
void packMatrix(const double* a, int rows, int cols, PackedMatrix& out);

/// Y (A.rows, N) = A X, X (A.cols, N) with leading dimension ldx, Y with ldy; N a multiple of
/// kColumnPad. Each Y[r][j] is Σ_c A[r][c] X[c][j] summed in order c = 0, 1, ... (fused multiply-add
/// where the ISA has it).
void gemm(const PackedMatrix& A, const double* X, int ldx, int N, double* Y, int ldy);

/// The radial MLP's activation on rows h < rows of Y (leading dimension ld): values v = Y[h ld + b]
/// and tangents t = Y[h ld + width + b], b < width (a multiple of kColumnPad): v <- SiLU(v),
/// t <- t SiLU'(v); then, with scale (per row h; nullptr: none), the LSQ fake quantization of v
/// (docs/format.md) and, when clipped, t <- t · mask. Vectorized exp (Cody-Waite reduction, degree-13
/// Taylor, within ~1 ulp of libm's); the quantizer divides and rounds half to even exactly as
/// math::lsqFakeQuant.
void radialActivate(double* Y, int rows, int ld, int width, const double* scale, double qmin, double qmax,
                    bool clipped = true);
/// The same LSQ (values) and masking (tangents) without the SiLU.
void radialQuantize(double* Y, int rows, int ld, int width, const double* scale, double qmin, double qmax,
                    bool clipped = true);

/// y (n) = Σ_k t[k] J[k n ..] over k = 0 .. K-1 in order (fused multiply-add where the ISA has it).
void jacobianApply(const double* J, int K, int n, const double* t, double* y);

/// Cubic Hermite segment in coefficient form, coeffs = [c0 | c1 | c2 | c3] (4 n): w = c0 + t (c1 +
/// t (c2 + t c3)) and dw = (c1 + t (2 c2 + 3 t c3)) · invH, the exact derivative in d = (k + t) h.
void hermiteSegment(const double* coeffs, int n, double t, double invH, double* w, double* dw);

/// One tensor-product path prepared at decode (docs/format.md step 4), for the transposed
/// layouts: feature block b of an atom stored component-major, element (u, a) at offsetT + a·Cp + u.
struct TpTerm {
  int a, b, k;
  double coef;
};
struct TpPlan {
  int d1 = 1, d2 = 1, d3 = 1, shOffset = 0;  // shOffset = lSh²
  int inOffsetT = 0, midOffsetT = 0;         // transposed offsets of block_in / block_mid
  std::vector<TpTerm> terms;                 // nonzero cg[a, b, k]
  std::vector<int> termAk;                   // per term: its (a, k) entry below
  // (a, k) with some nonzero cg[a, ·, k], sorted by (k, a): entries kStart[k] .. kStart[k+1]-1
  std::vector<int> akA, akK, kStart;
  // the same entries grouped by a: aStart[a] .. aStart[a+1]-1 index byA (entry numbers)
  std::vector<int> aStart, byA;
  int kernel = 0;  // tpKernelKind: a compile-time-sized kernel, 0 = generic
};
/// The specialized kernel for the plan's sizes (1: 1x1, 2: 1x3, 3: 3x1, 4: 3x3 diagonal, 5: 3x3), 0: generic.
int tpKernelKind(const TpPlan& P);
/// Builds the plan of a path from cg (d1, d2, d3) row-major.
TpPlan makeTpPlan(const std::vector<double>& cg, int lIn, int lSh, int lOut, int inOffsetT, int midOffsetT);

/// MT (D_midT) += c · m_e with m_e[path][u, k] = w[p Cp + u] Σ_a cy[a, k] xT[a][u],
/// cy[a, k] = Σ_b cg[a, b, k] Y_b. xT: the neighbour's x_up (transposed), w: padded radial weights.
void tpForwardEdge(const std::vector<TpPlan>& plans, int Cp, const double* xT, const double* Y, const double* w,
                   double c, double* MT);

/// Backward of tpForwardEdge for G = dE/dM_center (transposed): gxT += c dm/dxT ᵀ G, gY (shDim)
/// += c (dm/dY)ᵀ G; returns through *radial Σ_(p,u) dw[p Cp + u] c Σ_k G T and through *alphaDot
/// Σ_(p,u) w Σ_k G T (= G · m_e / c, attention's dE/dα). gxT / gY / dw / alphaDot may be null.
void tpBackwardEdge(const std::vector<TpPlan>& plans, int Cp, const double* xT, const double* Y, const double* w,
                    const double* dw, double c, const double* GT, double* gxT, double* gY, double* radial,
                    double* alphaDot);

}  // namespace gaqmd
