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

}  // namespace gaqmd::math
