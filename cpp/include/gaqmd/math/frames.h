#pragma once
// Per-atom local frames for rotation-covariant MDDQ directions (docs/format.md, "Local frame").

#include "gaqmd/math/common.h"

namespace gaqmd::math {

/// The part of a unit direction orthogonal to e1 must exceed this norm to define e2.
constexpr double kFrameMinSine = 0.1;

/// dirs (count, 3): unit directions to the neighbours sorted by (distance, index) -> frame F (3, 3)
/// row-major, rows e1, e2, e3 (identity without neighbours; collinear: e2 from the Cartesian axis
/// with the smallest |e1_a|, first on ties).
GAQMD_HD inline void localFrame(const double* dirs, int count, double* F) {
  for (int k = 0; k < 9; ++k) F[k] = (k % 4 == 0) ? 1.0 : 0.0;
  if (count == 0) return;
  const double* e1 = dirs;
  double e2[3];
  bool found = false;
  for (int k = 0; k < count && !found; ++k) {
    const double* d = dirs + 3 * k;
    const double along = dot(d, e1);
    for (int a = 0; a < 3; ++a) e2[a] = d[a] - along * e1[a];
    found = norm3(e2) > kFrameMinSine;
  }
  if (!found) {
    int axis = 0;
    for (int a = 1; a < 3; ++a)
      if (fabs(e1[a]) < fabs(e1[axis])) axis = a;
    const double along = e1[axis];
    for (int a = 0; a < 3; ++a) e2[a] = (a == axis ? 1.0 : 0.0) - along * e1[a];
  }
  const double n2 = norm3(e2);
  for (int a = 0; a < 3; ++a) {
    F[a] = e1[a];
    F[3 + a] = e2[a] / n2;
  }
  cross(F, F + 3, F + 6);
}

/// y = F x (3x3 row-major times 3-vector), each row summed as (a0 + a1) + a2.
GAQMD_HD inline void frameApply(const double* F, const double* x, double* y) {
  for (int a = 0; a < 3; ++a) y[a] = dot(F + 3 * a, x);
}

/// y = Fᵀ x.
GAQMD_HD inline void frameApplyTransposed(const double* F, const double* x, double* y) {
  for (int b = 0; b < 3; ++b) y[b] = (F[b] * x[0] + F[3 + b] * x[1]) + F[6 + b] * x[2];
}

/// F (3x3 rotation, rows e1, e2, e3) -> D (5x5 row-major) with Y2(F p) = D Y2(p) for every unit p,
/// Y2 the l = 2 harmonics of sph.h. Each Y2_k(p) = pᵀ A_k p with symmetric traceless A_k, mutually
/// orthogonal with |A_k|² = 15/2 (Frobenius), so D_kj = <Fᵀ A_k F, A_j> / (15/2).
GAQMD_HD inline void wigner2FromFrame(const double* F, double* D) {
  const double h = 0.5 * 3.872983346207417, s5 = 2.23606797749979;  // √15 / 2, √5
  // A_k as 3x3 row-major, components ordered like sph.h: xz, xy, y² - (x² + z²)/2, yz, (z² - x²)/2
  const double A[5][9] = {{0, 0, h, 0, 0, 0, h, 0, 0},
                          {0, h, 0, h, 0, 0, 0, 0, 0},
                          {-0.5 * s5, 0, 0, 0, s5, 0, 0, 0, -0.5 * s5},
                          {0, 0, 0, 0, 0, h, 0, h, 0},
                          {-h, 0, 0, 0, 0, 0, 0, 0, h}};
  for (int k = 0; k < 5; ++k) {
    double rotated[9];  // Fᵀ A_k F
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b) {
        double sum = 0.0;
        for (int c = 0; c < 3; ++c)
          for (int e = 0; e < 3; ++e) sum += F[3 * c + a] * A[k][3 * c + e] * F[3 * e + b];
        rotated[3 * a + b] = sum;
      }
    for (int j = 0; j < 5; ++j) {
      double inner = 0.0;
      for (int c = 0; c < 9; ++c) inner += rotated[c] * A[j][c];
      D[5 * k + j] = inner / 7.5;
    }
  }
}

/// y (5) = D x, or Dᵀ x when transposed (D 5x5 row-major, e.g. from wigner2FromFrame).
GAQMD_HD inline void wigner2Apply(const double* D, bool transposed, const double* x, double* y) {
  for (int a = 0; a < 5; ++a) {
    double sum = 0.0;
    for (int c = 0; c < 5; ++c) sum += (transposed ? D[5 * c + a] : D[5 * a + c]) * x[c];
    y[a] = sum;
  }
}

}  // namespace gaqmd::math
