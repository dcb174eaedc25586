#pragma once
// Radial functions of an edge length d (Å): Bessel basis and NequIP's polynomial envelope,
// with their derivatives in d (docs/format.md, "Model").

#include "gaqmd/math/common.h"

namespace gaqmd::math {

/// e_n = sqrt(2/r_c) sin(ω_n d) / d (Å⁻¹) and de_n/dd (Å⁻²), n = 0..K-1; omega (K,) in Å⁻¹.
GAQMD_HD inline void besselBasis(double d, double cutoff, const double* omega, int K, double* e,
                                 double* de) {
  const double prefactor = sqrt(2.0 / cutoff);
  for (int n = 0; n < K; ++n) {
    const double s = sin(omega[n] * d), c = cos(omega[n] * d);
    e[n] = prefactor * s / d;
    if (de) de[n] = prefactor * (omega[n] * c * d - s) / (d * d);
  }
}

/// f(x) = 1 - (p+1)(p+2)/2 x^p + p(p+2) x^(p+1) - p(p+1)/2 x^(p+2), x = d/r_c < 1, else 0
/// (dimensionless); *df = df/dd (Å⁻¹).
GAQMD_HD inline double polynomialEnvelope(double d, double cutoff, double p, double* df) {
  const double x = d / cutoff;
  if (!(x < 1.0)) {
    if (df) *df = 0.0;
    return 0.0;
  }
  const double a = 0.5 * (p + 1.0) * (p + 2.0), b = p * (p + 2.0), c = 0.5 * p * (p + 1.0);
  const double xp = pow(x, p), xp1 = pow(x, p + 1.0), xp2 = pow(x, p + 2.0);
  if (df) {
    const double xm1 = pow(x, p - 1.0);
    *df = (-a * p * xm1 + b * (p + 1.0) * xp - c * (p + 2.0) * xp1) / cutoff;
  }
  return 1.0 - a * xp + b * xp1 - c * xp2;
}

}  // namespace gaqmd::math
