// Math pieces of the engine: spherical-harmonic and envelope derivatives against central finite
// differences, int4 unpacking, LSQ rounding, half-precision rounding, and the key table of the w4a8
// radial cache. Plain asserts: exit code 1 on the first failure. With an argument FILE: also checks roundToHalf against reference pairs
// (float64 x, float16 bits, little-endian, 10 bytes each) that tests/unit/test_engine_kinds.py
// writes with numpy.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <vector>

#include "gaqmd/engine/Kernels.h"
#include "gaqmd/engine/State.h"
#include "gaqmd/math/activations.h"
#include "gaqmd/math/quant.h"
#include "gaqmd/math/radial.h"
#include "gaqmd/math/sph.h"
#include "check.h"

using namespace gaqmd::math;


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
  CHECK(lsqFakeQuant(-300.0, 2.0, -127, 127, &mask, false) == -254.0 && mask == 1.0, "unclipped: clamped, mask 1");
  CHECK(lsqFakeQuant(254.0, 2.0, -127, 127, &mask) == 254.0 && mask == 1.0, "x/s = qmax is in range");
  double inRange;
  CHECK(mddqMagnitude(0.3, 0.1, 255, false, 0.0, &inRange) == 0.30000000000000004 && inRange == 1.0, "linear magnitude");
  const double logHat = mddqMagnitude(std::exp(1.04), 0.1, 254, true, 0.0, &inRange);
  CHECK(std::fabs(logHat - std::exp(1.0)) < 1e-12, "log-domain magnitude %g", logHat);
}

/// roundHalfEven (the shift trick on the host) equals nearbyint bit for bit: ties, signs, huge
/// values, the 2^51 boundary, infinities and NaN.
void testRoundHalfEven() {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> uniform(-300.0, 300.0);
  std::vector<double> xs = {0.0, -0.0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 127.5, -128.5, 0.49999999999999994,
                            2251799813685247.5, -2251799813685247.5, 2251799813685248.0, 4503599627370497.0,
                            1e300, -1e300, INFINITY, -INFINITY};
  for (int k = 0; k < 100000; ++k) xs.push_back(uniform(rng));
  for (int k = -1000; k <= 1000; ++k) xs.push_back(k + 0.5);
  for (double x : xs) {
    const double a = roundHalfEven(x), b = std::nearbyint(x);
    CHECK(a == b && std::signbit(a) == std::signbit(b), "roundHalfEven(%.17g) = %.17g, nearbyint %.17g", x, a, b);
  }
  CHECK(std::isnan(roundHalfEven(NAN)), "roundHalfEven(NaN) is not NaN");
}

/// Value of half-precision bits h (independent of roundToHalf: sign, 5-bit exponent, 10-bit fraction).
double halfValue(uint16_t h) {
  const int sign = h >> 15, exponent = (h >> 10) & 0x1f, fraction = h & 0x3ff;
  double v;
  if (exponent == 0x1f) v = fraction ? NAN : INFINITY;
  else if (exponent == 0) v = std::ldexp(fraction, -24);
  else v = std::ldexp(1024 + fraction, exponent - 25);
  return sign ? -v : v;
}

bool sameDouble(double a, double b) {
  return (std::isnan(a) && std::isnan(b)) || (a == b && std::signbit(a) == std::signbit(b));
}

/// roundToHalf over every half h: h itself, the midpoints to its neighbours (ties to even), the
/// float32 values just inside and outside them, and float64 values that float32 rounds onto a
/// midpoint (PyTorch's float64 -> float32 -> float16: ties to even) or off it.
void testRoundToHalf() {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    const uint16_t h = static_cast<uint16_t>(bits);
    const double v = halfValue(h);
    CHECK(sameDouble(roundToHalf(v), v), "roundToHalf(half %04x = %.17g) = %.17g", bits, v, roundToHalf(v));
    if ((h & 0x7fff) >= 0x7bff) continue;  // from 65504 up: the overflow checks below
    const double next = halfValue(static_cast<uint16_t>(h + 1));  // next away from zero (same sign)
    const double mid = 0.5 * (v + next);
    const bool evenLow = (h & 1) == 0;
    CHECK(sameDouble(roundToHalf(mid), evenLow ? v : next), "tie %.17g between %.17g and %.17g", mid, v, next);
    const float fm = static_cast<float>(mid);
    const double below = std::nextafter(fm, 0.0f), above = std::nextafter(fm, 2.0f * fm);
    CHECK(sameDouble(roundToHalf(below), v), "%.17g (just inside) -> %.17g", below, roundToHalf(below));
    CHECK(sameDouble(roundToHalf(above), next), "%.17g (just outside) -> %.17g", above, roundToHalf(above));
    // float64 within half a float32 ulp of the midpoint: float32 rounds it onto the midpoint.
    const double ulp32 = std::nextafter(fm, 2.0f * fm) - fm;
    const double nearMid = mid + 0.25 * ulp32;
    CHECK(sameDouble(roundToHalf(nearMid), evenLow ? v : next), "%.17g (float32 midpoint) -> %.17g", nearMid,
          roundToHalf(nearMid));
  }
  CHECK(roundToHalf(1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40)) == 1.0, "double rounding via float32");
  CHECK(roundToHalf(65519.0) == 65504.0 && std::isinf(roundToHalf(65520.0)) && roundToHalf(-65520.0) < 0,
        "overflow at 65520");
  CHECK(std::isinf(roundToHalf(1e300)) && std::isinf(roundToHalf(-INFINITY)) && std::isnan(roundToHalf(NAN)),
        "inf / NaN");
  CHECK(sameDouble(roundToHalf(std::ldexp(1.0, -25)), 0.0) && sameDouble(roundToHalf(-1e-30), -0.0) &&
            roundToHalf(std::ldexp(1.5, -25)) == std::ldexp(1.0, -24),
        "below the smallest subnormal");
}

/// roundToHalf against reference pairs from a file (see the header comment).
void testRoundToHalfFile(const char* path) {
  std::ifstream in(path, std::ios::binary);
  CHECK(in.good(), "cannot read %s", path);
  char record[10];
  long count = 0;
  while (in.read(record, 10)) {
    double x;
    uint16_t h;
    std::memcpy(&x, record, 8);
    std::memcpy(&h, record + 8, 2);
    CHECK(sameDouble(roundToHalf(x), halfValue(h)), "roundToHalf(%.17g) = %.17g, reference %.17g (half %04x)", x,
          roundToHalf(x), halfValue(h), h);
    ++count;
  }
  CHECK(count > 0, "no reference values in %s", path);
  std::printf("test_engine_math: %ld reference values agree\n", count);
}

/// The vectorized radial activation (Kernels.cpp) against the scalar formulas: SiLU and its
/// derivative within a few ulps (its own exp), the LSQ bit for bit given the same SiLU value, with
/// the clipped straight-through derivative (0 beyond the code range) and the unclipped one (1).
void testRadialActivate() {
  std::mt19937 rng(3);
  std::normal_distribution<double> normal(0.0, 6.0);
  const int rows = 64, width = 8, ld = 2 * width;
  std::vector<double> Y(rows * ld), scale(rows);
  for (double& y : Y) y = normal(rng);
  Y[0] = 0.0, Y[1] = -0.0, Y[2] = 800.0, Y[3] = -800.0, Y[4] = 40.0, Y[5] = -40.0, Y[6] = 1e-300, Y[7] = -745.0;
  for (double& s : scale) s = 0.01 + std::fabs(normal(rng)) / 50;
  int clippedTangents = 0;
  for (int mode = 0; mode < 3; ++mode) {
    const bool quant = mode > 0, clipped = mode == 1;
    std::vector<double> out = Y;
    gaqmd::radialActivate(out.data(), rows, ld, width, quant ? scale.data() : nullptr, -128.0, 127.0, clipped);
    std::vector<double> plain = Y;
    gaqmd::radialActivate(plain.data(), rows, ld, width, nullptr, 0.0, 0.0);
    for (int h = 0; h < rows; ++h)
      for (int b = 0; b < width; ++b) {
        const double z = Y[h * ld + b], t = Y[h * ld + width + b];
        const double silu = plain[h * ld + b], tangent = plain[h * ld + width + b];
        CHECK(std::fabs(silu - gaqmd::math::silu(z)) <= 4e-16 * std::fabs(gaqmd::math::silu(z)) + 1e-300,
              "silu(%.17g) = %.17g vs %.17g", z, silu, gaqmd::math::silu(z));
        const double g = t * gaqmd::math::siluGrad(z);
        CHECK(std::fabs(tangent - g) <= 1e-15 * std::fabs(g) + 1e-300, "silu' tangent at %.17g: %.17g vs %.17g", z,
              tangent, g);
        if (!quant) continue;
        const double q = lsqFakeQuant(silu, scale[h], -128.0, 127.0, nullptr);
        const bool inside = silu / scale[h] >= -128.0 && silu / scale[h] <= 127.0;
        CHECK(out[h * ld + b] == q, "LSQ of %.17g: %.17g vs %.17g", silu, out[h * ld + b], q);
        CHECK(out[h * ld + width + b] == (clipped && !inside ? 0.0 : tangent), "LSQ mask of %.17g", silu);
        clippedTangents += clipped && !inside && tangent != 0.0;
      }
  }
  CHECK(clippedTangents > 0, "no value beyond the code range: the clipped case is untested");
}

/// RadialCache finds every inserted key (one byte per radial input code: keys that differ in one
/// byte, the top one included, as neighbouring distances give) and no other, through many regrowths.
void testRadialCacheKeys() {
  gaqmd::RadialCache cache;
  std::vector<uint64_t> keys;
  const uint64_t base = 0x7f7f7f7f7f7f7f7full;
  for (int byte = 0; byte < 8; ++byte)
    for (uint64_t v = 0; v < 255; ++v) keys.push_back((base & ~(0xffull << (8 * byte))) | (v << (8 * byte)));
  std::mt19937_64 rng(3);
  for (int k = 0; k < 20000; ++k) keys.push_back(rng());
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  std::shuffle(keys.begin(), keys.end(), rng);
  for (size_t k = 0; k < keys.size(); ++k) {
    CHECK(cache.find(keys[k]) == -1, "key %zu found before its insertion", k);
    CHECK(cache.insert(keys[k]) == static_cast<int>(k), "insert %zu returned a wrong entry", k);
  }
  for (size_t k = 0; k < keys.size(); ++k)
    CHECK(cache.find(keys[k]) == static_cast<int>(k), "key %zu: found entry %d", k, cache.find(keys[k]));
  CHECK(cache.find(base ^ 1ull << 63) == -1 || std::count(keys.begin(), keys.end(), base ^ 1ull << 63) == 1,
        "an absent key was found");
  cache.clear();
  CHECK(cache.count() == 0 && cache.find(keys[0]) == -1, "clear() must empty the cache");
}

int main(int argc, char** argv) {
  if (argc > 1) testRoundToHalfFile(argv[1]);
  testRoundToHalf();
  testRoundHalfEven();
  testRadialActivate();
  testShGradient();
  testRadialDerivatives();
  testInt4AndLsq();
  testRadialCacheKeys();
  std::printf("test_engine_math: ok\n");
  return 0;
}
