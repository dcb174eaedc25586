#pragma once
// Elementwise activations and their derivatives.

#include "gaqmd/math/common.h"

namespace gaqmd::math {

/// σ(x) = 1 / (1 + e^-x), evaluated without overflow.
GAQMD_HD inline double sigmoid(double x) {
  if (x >= 0.0) return 1.0 / (1.0 + exp(-x));
  const double e = exp(x);
  return e / (1.0 + e);
}

GAQMD_HD inline double sigmoidGrad(double x) {
  const double s = sigmoid(x);
  return s * (1.0 - s);
}

/// SiLU(x) = x σ(x).
GAQMD_HD inline double silu(double x) { return x * sigmoid(x); }

/// dSiLU/dx = σ(x) (1 + x (1 - σ(x))).
GAQMD_HD inline double siluGrad(double x) {
  const double s = sigmoid(x);
  return s * (1.0 + x * (1.0 - s));
}

}  // namespace gaqmd::math
