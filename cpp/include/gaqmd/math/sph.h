#pragma once
// Real spherical harmonics l <= 2 of a unit vector u = (x, y, z), e3nn "component" normalization
// and component order (e3nn >= 0.5): Y = [1 | √3 x, √3 y, √3 z | √15 xz, √15 xy,
// √5 (y² - (x² + z²)/2), √15 yz, √15/2 (z² - x²)], (l_max + 1)² values.

#include "gaqmd/math/common.h"

namespace gaqmd::math {

GAQMD_HD inline int shDim(int lMax) { return (lMax + 1) * (lMax + 1); }

/// u (3,) unit vector -> Y (shDim(lMax),).
GAQMD_HD inline void sphericalHarmonics(const double* u, int lMax, double* Y) {
  const double s3 = 1.7320508075688772, s5 = 2.23606797749979, s15 = 3.872983346207417;
  const double x = u[0], y = u[1], z = u[2];
  Y[0] = 1.0;
  if (lMax < 1) return;
  Y[1] = s3 * x;
  Y[2] = s3 * y;
  Y[3] = s3 * z;
  if (lMax < 2) return;
  Y[4] = s15 * x * z;
  Y[5] = s15 * x * y;
  Y[6] = s5 * (y * y - 0.5 * (x * x + z * z));
  Y[7] = s15 * y * z;
  Y[8] = 0.5 * s15 * (z * z - x * x);
}

/// gY = dE/dY (shDim,) -> gu = dE/du (3,) of the polynomials above (u treated as unconstrained).
GAQMD_HD inline void sphericalHarmonicsBackward(const double* u, int lMax, const double* gY, double* gu) {
  const double s3 = 1.7320508075688772, s5 = 2.23606797749979, s15 = 3.872983346207417;
  const double x = u[0], y = u[1], z = u[2];
  gu[0] = gu[1] = gu[2] = 0.0;
  if (lMax < 1) return;
  gu[0] += s3 * gY[1];
  gu[1] += s3 * gY[2];
  gu[2] += s3 * gY[3];
  if (lMax < 2) return;
  gu[0] += s15 * (z * gY[4] + y * gY[5] - x * gY[8]) - s5 * x * gY[6];
  gu[1] += s15 * (x * gY[5] + z * gY[7]) + 2.0 * s5 * y * gY[6];
  gu[2] += s15 * (x * gY[4] + y * gY[7] + z * gY[8]) - s5 * z * gY[6];
}

/// dE/dr from dE/du for u = r / d: (I - u uᵀ) gu / d (Å⁻¹ · [E]).
GAQMD_HD inline void unitVectorBackward(const double* u, double d, const double* gu, double* gr) {
  const double along = dot(gu, u);
  for (int a = 0; a < 3; ++a) gr[a] = (gu[a] - along * u[a]) / d;
}

}  // namespace gaqmd::math
