#pragma once
// The w4a8 quantizers (docs/format.md, "Quantizers") and int4 weight codes. Every forward divides
// by the scale (never multiplies by a reciprocal) and rounds half to even, as PyTorch does.

#include <cstdint>
#include <cstring>

#include "gaqmd/math/common.h"

namespace gaqmd::math {

/// Round half to even (the default floating-point rounding mode). On the host: nearbyint's result
/// without the libm call (x86-64 without SSE4.1 has no rounding instruction): for |x| < 2^51,
/// (|x| + 1.5·2^52) - 1.5·2^52 rounds |x| to an integer in the current (nearest-even) mode exactly
/// (symmetric, so the sign is copied back, -0 included); larger |x| and NaN go to nearbyint.
GAQMD_HD inline double roundHalfEven(double x) {
#ifdef __CUDA_ARCH__
  return nearbyint(x);
#else
  constexpr double kShift = 6755399441055744.0;  // 1.5 · 2^52
  if (!(fabs(x) < 2251799813685248.0)) return nearbyint(x);  // |x| >= 2^51 or NaN
  return copysign((fabs(x) + kShift) - kShift, x);
#endif
}

GAQMD_HD inline double clampd(double x, double lo, double hi) { return x < lo ? lo : (x > hi ? hi : x); }

/// The LSQ straight-through derivative dx̂/dx at w = x / s: 1 if qmin <= w <= qmax, else 0 when
/// clipped and 1 when not.
GAQMD_HD inline double lsqSteMask(double w, double qmin, double qmax, bool clipped) {
  return (!clipped || (w >= qmin && w <= qmax)) ? 1.0 : 0.0;
}

/// LSQ fake quantization: clamp(rne(x / s), qmin, qmax) · s; *mask = lsqSteMask(x / s, ...).
GAQMD_HD inline double lsqFakeQuant(double x, double s, double qmin, double qmax, double* mask, bool clipped = true) {
  const double w = x / s;
  if (mask) *mask = lsqSteMask(w, qmin, qmax, clipped);
  return clampd(roundHalfEven(w), qmin, qmax) * s;
}

/// Signed int4 code k (0-based, row-major) of a packed array: low nibble first, two's complement.
GAQMD_HD inline int unpackInt4(const uint8_t* packed, int64_t k) {
  const int nibble = (packed[k >> 1] >> (4 * (k & 1))) & 0xF;
  return nibble >= 8 ? nibble - 16 : nibble;
}

/// MDDQ magnitude: m (> 0) -> m̂; *inRange = 1 if the code was not clamped (both domains).
/// Linear: q = clamp(rne(m/s), 0, qmax), m̂ = q s. Log: q = clamp(rne((log m - logMin)/s), 0, qmax),
/// m̂ = exp(logMin + q s).
GAQMD_HD inline double mddqMagnitude(double m, double s, double qmax, bool logDomain, double logMin,
                                     double* inRange) {
  const double argument = logDomain ? log(m) - logMin : m;
  const double w = argument / s;
  if (inRange) *inRange = (w >= 0.0 && w <= qmax) ? 1.0 : 0.0;
  const double fake = clampd(roundHalfEven(w), 0.0, qmax) * s;
  return logDomain ? exp(logMin + fake) : fake;
}

/// Geometric STE of v̂ = m̂ c (one 3-vector): g = dE/dv̂ -> dE/dv =
/// (g·c) inRange u + (m̂/m)(g - (g·u) u), u = v/m; zero vectors (isZero) pass g unchanged.
GAQMD_HD inline void geometricSte(const double* g, const double* v, double m, double mHat, const double* c,
                                  double inRange, bool isZero, double* gv) {
  if (isZero) {
    for (int a = 0; a < 3; ++a) gv[a] = g[a];
    return;
  }
  double u[3];
  for (int a = 0; a < 3; ++a) u[a] = v[a] / m;
  const double alongC = dot(g, c) * inRange, alongU = dot(g, u), ratio = mHat / m;
  for (int a = 0; a < 3; ++a) gv[a] = alongC * u[a] + ratio * (g[a] - alongU * u[a]);
}

/// Geometric STE of v̂ = m̂ c for a d-vector (kind mddq-fp16, d = 2l + 1), the same formula as
/// geometricSte; m̂, m, inRange and isZero as recorded by the forward pass.
GAQMD_HD inline void geometricSteN(const double* g, const double* v, double m, double mHat, const double* c,
                                   double inRange, bool isZero, int d, double* gv) {
  if (isZero) {
    for (int a = 0; a < d; ++a) gv[a] = g[a];
    return;
  }
  double u[9], alongC = 0.0, alongU = 0.0;
  for (int a = 0; a < d; ++a) u[a] = v[a] / m;
  for (int a = 0; a < d; ++a) alongC += g[a] * c[a], alongU += g[a] * u[a];
  alongC *= inRange;
  const double ratio = mHat / m;
  for (int a = 0; a < d; ++a) gv[a] = alongC * u[a] + ratio * (g[a] - alongU * u[a]);
}

/// x rounded to IEEE half precision (binary16) and back, as PyTorch's float64 -> float16 cast does
/// it: first to float32, then to half, each round to nearest even (so a float64 just above a half
/// midpoint that float32 rounds onto the midpoint ties to even: 1 + 2^-11 + 2^-40 -> 1, where a
/// direct float64 -> half rounding gives 1 + 2^-10). Subnormal halves (|h| < 2^-14, steps of
/// 2^-24) included; |x| that rounds to >= 2^16 overflows to ±inf; NaN stays NaN; -0 stays -0.
GAQMD_HD inline double roundToHalf(double x) {
  const float f = static_cast<float>(x);
  uint32_t bits;
  memcpy(&bits, &f, 4);
  const uint32_t sign = bits & 0x80000000u;
  uint32_t mag = bits ^ sign;
  if (mag >= 0x7f800000u) return static_cast<double>(f);  // inf, NaN
  double r;
  if (mag < 0x38800000u) {  // |f| < 2^-14: multiples of 2^-24 (scaling by 2^24 is exact)
    r = roundHalfEven(static_cast<double>(fabsf(f)) * 16777216.0) / 16777216.0;
  } else {  // keep 10 of the 23 fraction bits, round half to even (a carry may raise the exponent)
    mag += 0x0fffu + ((mag >> 13) & 1u);
    mag &= ~0x1fffu;
    if (mag >= 0x47800000u) mag = 0x7f800000u;  // >= 2^16: beyond half's largest finite 65504
    float rf;
    memcpy(&rf, &mag, 4);
    r = static_cast<double>(rf);
  }
  return sign ? -r : r;
}

/// Codebook score of direction u against point p: (u_x p_x + u_y p_y) + u_z p_z.
GAQMD_HD inline double codebookScore(const double* u, const double* p) { return dot(u, p); }

}  // namespace gaqmd::math
