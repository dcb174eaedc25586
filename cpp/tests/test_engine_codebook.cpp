// The bucketed nearest-codeword lookup equals the brute force (Fibonacci and random codebooks;
// random directions and adversarial ones: near-ties between two and three codewords, cube-map face
// edges and corners, poles), and the build is fast enough for K = 65536.

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "gaqmd/engine/Codebook.h"
#include "check.h"


std::vector<double> fibonacci(int K) {
  const double golden = M_PI * (3.0 - std::sqrt(5.0));
  std::vector<double> p(3 * K);
  for (int k = 0; k < K; ++k) {
    const double z = 1.0 - (2.0 * k + 1.0) / K, rho = std::sqrt(std::max(0.0, 1.0 - z * z));
    const double phi = std::fmod(k * golden, 2.0 * M_PI);
    p[3 * k] = rho * std::cos(phi), p[3 * k + 1] = rho * std::sin(phi), p[3 * k + 2] = z;
  }
  return p;
}

std::vector<double> randomPoints(int K) {
  std::mt19937 rng(K + 1);
  std::normal_distribution<double> normal;
  std::vector<double> p(3 * K);
  for (int k = 0; k < K; ++k) {
    const double x = normal(rng), y = normal(rng), z = normal(rng), r = std::sqrt(x * x + y * y + z * z);
    p[3 * k] = x / r, p[3 * k + 1] = y / r, p[3 * k + 2] = z / r;
  }
  return p;
}

/// The three best codewords of u by brute force (best first).
void topThree(const gaqmd::Codebook& book, const double* u, int* top) {
  double score[3] = {-1e300, -1e300, -1e300};
  top[0] = top[1] = top[2] = 0;
  for (int k = 0; k < book.size(); ++k) {
    const double* p = book.point(k);
    const double s = (u[0] * p[0] + u[1] * p[1]) + u[2] * p[2];
    for (int r = 0; r < 3; ++r)
      if (s > score[r]) {
        for (int q = 2; q > r; --q) score[q] = score[q - 1], top[q] = top[q - 1];
        score[r] = s, top[r] = k;
        break;
      }
  }
}

/// Directions where the lookup is easiest to get wrong: equidistant from the two or three best
/// codewords of a random direction (a Voronoi edge or vertex, ties up to round-off), on cube-map
/// face edges and corners (|u_a| = |u_b|), and on the axes.
void adversarial(const gaqmd::Codebook& book, std::mt19937& rng, int t, double* u) {
  std::normal_distribution<double> normal;
  std::uniform_int_distribution<int> sign(0, 1);
  for (int a = 0; a < 3; ++a) u[a] = normal(rng);
  int top[3];
  const double *p0, *p1, *p2;
  switch (t % 4) {
    case 0:  // bisector of the two best
      topThree(book, u, top);
      p0 = book.point(top[0]), p1 = book.point(top[1]);
      for (int a = 0; a < 3; ++a) u[a] = p0[a] + p1[a];
      break;
    case 1: {  // circumcentre direction of the three best: (p1 - p0) x (p2 - p0), towards p0
      topThree(book, u, top);
      p0 = book.point(top[0]), p1 = book.point(top[1]), p2 = book.point(top[2]);
      const double d1[3] = {p1[0] - p0[0], p1[1] - p0[1], p1[2] - p0[2]};
      const double d2[3] = {p2[0] - p0[0], p2[1] - p0[1], p2[2] - p0[2]};
      double n[3] = {d1[1] * d2[2] - d1[2] * d2[1], d1[2] * d2[0] - d1[0] * d2[2], d1[0] * d2[1] - d1[1] * d2[0]};
      const double side = n[0] * p0[0] + n[1] * p0[1] + n[2] * p0[2] < 0 ? -1.0 : 1.0;
      for (int a = 0; a < 3; ++a) u[a] = side * n[a];
      break;
    }
    case 2: {  // a face edge (two equal |components|) or a cube corner (three)
      const int a = t % 3, b = (a + 1) % 3;
      u[b] = (sign(rng) ? 1.0 : -1.0) * std::fabs(u[a]);
      if (t % 8 == 2) u[(a + 2) % 3] = (sign(rng) ? 1.0 : -1.0) * std::fabs(u[a]);
      break;
    }
    default:  // an axis, or a plane through two axes
      if (t % 8 == 3) u[0] = u[1] = 0.0, u[2] = sign(rng) ? 1.0 : -1.0;
      else u[t % 3] = 0.0;
  }
}

void check(const char* kind, const std::vector<double>& points, int trials) {
  const int K = static_cast<int>(points.size() / 3);
  const auto start = std::chrono::steady_clock::now();
  const gaqmd::Codebook book(points);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%s K = %d: %d cells, %lld entries (%.1f per cell), build %.3f s\n", kind, K, book.numCells(),
              book.numEntries(), double(book.numEntries()) / book.numCells(), seconds);
  std::mt19937 rng(K);
  std::normal_distribution<double> normal;
  std::uniform_int_distribution<int> pick(0, K - 1);
  std::vector<double> batch;  // every direction below, then looked up together (nearestBatch)
  std::vector<int> expected;
  for (int t = 0; t < trials; ++t) {
    double u[3] = {normal(rng), normal(rng), normal(rng)};
    if (t % 4 == 1) {  // midway between two codewords: near-ties
      const double *a = book.point(pick(rng)), *b = book.point(pick(rng) % K);
      const int k = book.nearestBruteForce(a);
      const double* c = book.point((k + 1) % K);
      for (int x = 0; x < 3; ++x) u[x] = a[x] + c[x] + 1e-3 * b[x];
    } else if (t % 4 == 2) {
      adversarial(book, rng, t / 4, u);
    } else if (t % 4 == 3) {
      u[1] = 0.0;  // phi = 0 or pi
    }
    const int fast = book.nearest(u), slow = book.nearestBruteForce(u);
    CHECK(fast == slow, "K = %d, u = (%.17g, %.17g, %.17g): bucketed %d, brute force %d", K, u[0], u[1], u[2], fast, slow);
    batch.insert(batch.end(), u, u + 3);
    expected.push_back(slow);
    if (t % 97 == 0) batch.insert(batch.end(), {0.0, 0.0, 0.0}), expected.push_back(0);  // zero vectors
  }
  std::vector<int> found(expected.size(), -1);
  std::vector<double> winners(3 * expected.size());
  book.nearestBatch(batch.data(), static_cast<int>(expected.size()), found.data(), winners.data());
  for (size_t k = 0; k < expected.size(); ++k) {
    CHECK(found[k] == expected[k], "K = %d: nearestBatch entry %zu gives %d, nearest %d", K, k, found[k], expected[k]);
    const double* p = book.point(expected[k]);
    CHECK(winners[3 * k] == p[0] && winners[3 * k + 1] == p[1] && winners[3 * k + 2] == p[2],
          "K = %d: nearestBatch entry %zu: winner coordinates are not point %d's", K, k, expected[k]);
  }
  const double zero[3] = {0, 0, 0}, nan[3] = {NAN, 0, 0};
  CHECK(book.nearest(zero) == 0 && book.nearest(nan) == 0, "zero/NaN direction must give index 0");
  // Exact tie: a codebook holding the same point twice gives the lower index.
  std::vector<double> twice = {0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 1, 0};
  const gaqmd::Codebook tied(twice);
  const double up[3] = {0, 0, 2};
  CHECK(tied.nearest(up) == 0, "ties go to the lowest index, got %d", tied.nearest(up));
  CHECK(seconds < 5.0, "table build took %.2f s", seconds);
}

int main() {
  check("fibonacci", fibonacci(16), 2000);
  check("fibonacci", fibonacci(4096), 20000);
  check("fibonacci", fibonacci(65536), 4000);
  check("random", randomPoints(7), 2000);
  check("random", randomPoints(3000), 20000);
  std::printf("test_engine_codebook: ok\n");
  return 0;
}
