// Math pieces of the engine: spherical-harmonic and envelope derivatives against central finite
// differences, int4 unpacking, LSQ rounding. Plain asserts: exit code 1 on the first failure.

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "gaqmd/math/quant.h"
#include "gaqmd/math/radial.h"
#include "gaqmd/math/sph.h"

using namespace gaqmd::math;

#define CHECK(cond, ...)                                  \
  do {                                                    \
    if (!(cond)) {                                        \
      std::printf("FAILED %s:%d: ", __FILE__, __LINE__); \
      std::printf(__VA_ARGS__);                           \
      std::printf("\n");                                  \
      std::exit(1);                                       \
    }                                                     \
  } while (0)

/// f(r) = Σ_k w_k Y_k(r/|r|); checks the analytic dE/dr against central differences.
void testShGradient() {
  std::mt19937 rng(1);
  std::normal_distribution<double> normal;
  for (int trial = 0; trial < 50; ++trial) {
    double r[3] = {normal(rng), normal(rng), normal(rng)}, w[9];
    for (double& x : w) x = normal(rng);
    auto energy = [&](const double* v) {
      const double d = norm3(v), u[3] = {v[0] / d, v[1] / d, v[2] / d};
      double Y[9], e = 0.0;
      sphericalHarmonics(u, 2, Y);
      for (int k = 0; k < 9; ++k) e += w[k] * Y[k];
      return e;
    };
    const double d = norm3(r), u[3] = {r[0] / d, r[1] / d, r[2] / d};
    double gu[3], gr[3];
    sphericalHarmonicsBackward(u, 2, w, gu);
    unitVectorBackward(u, d, gu, gr);
    for (int a = 0; a < 3; ++a) {
      const double h = 1e-6;
      double p[3] = {r[0], r[1], r[2]}, m[3] = {r[0], r[1], r[2]};
      p[a] += h, m[a] -= h;
      const double fd = (energy(p) - energy(m)) / (2 * h);
      CHECK(std::fabs(fd - gr[a]) < 1e-7 * (1 + std::fabs(fd)), "SH gradient %d: %g vs fd %g", a, gr[a], fd);
    }
    // |Y_1|² = 3 and |Y_2|² = 5 (component normalization) on the unit sphere
    double Y[9];
    sphericalHarmonics(u, 2, Y);
    CHECK(std::fabs(Y[1] * Y[1] + Y[2] * Y[2] + Y[3] * Y[3] - 3.0) < 1e-12, "|Y1|^2 != 3");
    double n2 = 0;
    for (int k = 4; k < 9; ++k) n2 += Y[k] * Y[k];
    CHECK(std::fabs(n2 - 5.0) < 1e-12, "|Y2|^2 = %g != 5", n2);
  }
}

void testRadialDerivatives() {
  const double cutoff = 5.0, omega[3] = {M_PI / 5, 2 * M_PI / 5, 3 * M_PI / 5};
  for (double d = 0.3; d < 5.0; d += 0.37) {
    double df, e[3], de[3], ep[3], em[3];
    const double h = 1e-6;
    polynomialEnvelope(d, cutoff, 6.0, &df);
    const double fd = (polynomialEnvelope(d + h, cutoff, 6.0, nullptr) - polynomialEnvelope(d - h, cutoff, 6.0, nullptr)) / (2 * h);
    CHECK(std::fabs(fd - df) < 1e-8, "envelope derivative at %g: %g vs fd %g", d, df, fd);
    besselBasis(d, cutoff, omega, 3, e, de);
    besselBasis(d + h, cutoff, omega, 3, ep, nullptr);
    besselBasis(d - h, cutoff, omega, 3, em, nullptr);
    for (int n = 0; n < 3; ++n)
      CHECK(std::fabs((ep[n] - em[n]) / (2 * h) - de[n]) < 1e-7, "Bessel derivative %d at %g", n, d);
  }
  double df;
  CHECK(polynomialEnvelope(5.0, cutoff, 6.0, &df) == 0.0 && df == 0.0, "envelope is not 0 at the cutoff");
  CHECK(std::fabs(polynomialEnvelope(5.0 - 1e-9, cutoff, 6.0, nullptr)) < 1e-40, "envelope not smooth at r_c");
}

void testInt4AndLsq() {
  // codes -7..7 and -8 packed low nibble first: bytes (lo | hi << 4)
  const int codes[6] = {-7, 7, 0, -1, -8, 3};
  uint8_t packed[3];
  for (int k = 0; k < 3; ++k) packed[k] = static_cast<uint8_t>((codes[2 * k] & 0xF) | ((codes[2 * k + 1] & 0xF) << 4));
  for (int k = 0; k < 6; ++k) CHECK(unpackInt4(packed, k) == codes[k], "int4 code %d: %d", k, unpackInt4(packed, k));
  double mask;
  CHECK(lsqFakeQuant(2.5, 1.0, -127, 127, &mask) == 2.0 && mask == 1.0, "2.5 rounds half to even");
  CHECK(lsqFakeQuant(3.5, 1.0, -127, 127, &mask) == 4.0, "3.5 rounds half to even");
  CHECK(lsqFakeQuant(-300.0, 2.0, -127, 127, &mask) == -254.0 && mask == 0.0, "clamped below with mask 0");
  CHECK(lsqFakeQuant(254.0, 2.0, -127, 127, &mask) == 254.0 && mask == 1.0, "x/s = qmax is in range");
  double inRange;
  CHECK(mddqMagnitude(0.3, 0.1, 255, false, 0.0, &inRange) == 0.30000000000000004 && inRange == 1.0, "linear magnitude");
  const double logHat = mddqMagnitude(std::exp(1.04), 0.1, 254, true, 0.0, &inRange);
  CHECK(std::fabs(logHat - std::exp(1.0)) < 1e-12, "log-domain magnitude %g", logHat);
}

int main() {
  testShGradient();
  testRadialDerivatives();
  testInt4AndLsq();
  std::printf("test_engine_math: ok\n");
  return 0;
}
