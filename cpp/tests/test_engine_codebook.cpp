// The bucketed nearest-codeword lookup equals the brute force (Fibonacci codebooks, random and
// adversarial directions), and the build is fast enough for K = 65536.

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

void check(int K, int trials) {
  const auto start = std::chrono::steady_clock::now();
  const gaqmd::Codebook book(fibonacci(K));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("K = %d: %d cells, %lld entries (%.1f per cell), build %.3f s\n", K, book.numCells(),
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
    } else if (t % 4 == 2) {  // on the pole axis and on cell edges
      u[0] = u[1] = 0.0, u[2] = t % 8 == 2 ? 1.0 : -1.0;
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
  book.nearestBatch(batch.data(), static_cast<int>(expected.size()), found.data());
  for (size_t k = 0; k < expected.size(); ++k)
    CHECK(found[k] == expected[k], "K = %d: nearestBatch entry %zu gives %d, nearest %d", K, k, found[k], expected[k]);
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
  check(16, 2000);
  check(4096, 20000);
  check(65536, 4000);
  std::printf("test_engine_codebook: ok\n");
  return 0;
}
