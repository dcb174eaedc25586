// The cell-list half neighbour list equals a brute-force search over all 27 periodic images, in
// vacuum and in skewed triclinic boxes (OpenMM reduced form), with atoms outside the box; the
// directed edges are consistent (reverse edges, signs, CSR order).

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>
#include <tuple>
#include <vector>

#include "gaqmd/engine/ModelData.h"
#include "gaqmd/engine/Neighbors.h"
#include "check.h"


using Key = std::tuple<int, int, long, long, long>;  // (i, j, rounded r * 1e6)

Key key(int i, int j, const double* r) {
  return {i, j, std::lround(r[0] * 1e6), std::lround(r[1] * 1e6), std::lround(r[2] * 1e6)};
}

std::set<Key> bruteForce(const std::vector<double>& x, const double* box, double cutoff) {
  std::set<Key> pairs;
  const int n = static_cast<int>(x.size() / 3), span = box ? 3 : 0;
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j)
      for (int a = -span; a <= span; ++a)
        for (int b = -span; b <= span; ++b)
          for (int c = -span; c <= span; ++c) {
            double r[3];
            for (int k = 0; k < 3; ++k)
              r[k] = x[3 * j + k] - x[3 * i + k] + (box ? a * box[k] + b * box[3 + k] + c * box[6 + k] : 0.0);
            if (r[0] * r[0] + r[1] * r[1] + r[2] * r[2] < cutoff * cutoff) pairs.insert(key(i, j, r));
          }
  return pairs;
}

void check(const std::vector<double>& x, const double* box, double cutoff, const char* label) {
  const gaqmd::NeighborList nl = gaqmd::buildNeighborList(x.data(), static_cast<int>(x.size() / 3), box, cutoff);
  std::set<Key> found;
  for (int p = 0; p < nl.numPairs(); ++p) {
    CHECK(nl.pairI[p] < nl.pairJ[p], "%s: pair %d not ordered", label, p);
    CHECK(found.insert(key(nl.pairI[p], nl.pairJ[p], &nl.pairR[3 * p])).second, "%s: pair %d twice", label, p);
  }
  const std::set<Key> expected = bruteForce(x, box, cutoff);
  CHECK(found == expected, "%s: %zu pairs found, brute force %zu", label, found.size(), expected.size());
  CHECK(nl.numEdges() == 2 * nl.numPairs(), "%s: edge count", label);
  for (int a = 0; a < nl.numAtoms(); ++a)
    for (int e = nl.start[a]; e < nl.start[a + 1]; ++e) {
      const int p = nl.pair[e], r = nl.reverse[e];
      CHECK(nl.reverse[r] == e && nl.pair[r] == p && nl.sign[r] == -nl.sign[e], "%s: reverse edge", label);
      CHECK((nl.sign[e] > 0 ? nl.pairI[p] : nl.pairJ[p]) == a, "%s: center of edge %d", label, e);
      CHECK((nl.sign[e] > 0 ? nl.pairJ[p] : nl.pairI[p]) == nl.neighbour[e], "%s: neighbour of edge %d", label, e);
      CHECK(e == nl.start[a] || nl.neighbour[e - 1] <= nl.neighbour[e], "%s: CSR order", label);
    }
  std::printf("%s: %d pairs\n", label, nl.numPairs());
}

int main() {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> uniform(-0.4, 1.4);
  const double cutoff = 5.0;
  const double boxes[3][9] = {{10.0, 0, 0, 0, 10.0, 0, 0, 0, 10.0},
                              {12.0, 0, 0, 5.5, 11.0, 0, -5.0, 4.5, 10.5},
                              {23.0, 0, 0, -9.0, 17.0, 0, 8.0, -7.0, 13.0}};
  for (const double* box : boxes) {
    std::vector<double> x;
    for (int i = 0; i < 60; ++i) {
      const double f[3] = {uniform(rng), uniform(rng), uniform(rng)};
      for (int k = 0; k < 3; ++k) x.push_back(f[0] * box[k] + f[1] * box[3 + k] + f[2] * box[6 + k]);
    }
    check(x, box, cutoff, "periodic");
    check(x, nullptr, cutoff, "vacuum");
  }
  std::vector<double> line;  // far-apart clusters in vacuum: a sparse grid
  for (int i = 0; i < 40; ++i) line.insert(line.end(), {(i / 2) * 40.0 + 1.5 * (i % 2), 0.5 * (i % 3), 0.0});
  check(line, nullptr, cutoff, "sparse vacuum");
  const double thin[9] = {10.0, 0, 0, 0, 10.0, 0, 0, 0, 9.0};
  bool threw = false;
  try {
    gaqmd::checkGeometry(line.data(), 1, thin, cutoff);
  } catch (const gaqmd::InputError&) {
    threw = true;
  }
  CHECK(threw, "a box with height 9 < 2 x 5 must be refused");
  std::printf("test_engine_neighbors: ok\n");
  return 0;
}
