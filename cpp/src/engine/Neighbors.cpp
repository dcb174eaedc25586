// Cell-list neighbour search (half list) in vacuum or a triclinic periodic box.

#include "gaqmd/engine/Neighbors.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <sstream>

#include "gaqmd/engine/ModelData.h"
#include "gaqmd/engine/Parallel.h"
#include "gaqmd/math/common.h"

namespace gaqmd {
namespace {

std::string vectorString(const double* v) {
  std::ostringstream out;
  out << "(" << v[0] << ", " << v[1] << ", " << v[2] << ")";
  return out.str();
}

/// Heights of the cell along a, b, c: V / |b x c|, V / |c x a|, V / |a x b| (Å).
std::array<double, 3> heights(const double* box) {
  double bc[3], ca[3], ab[3];
  math::cross(box + 3, box + 6, bc);
  math::cross(box + 6, box, ca);
  math::cross(box, box + 3, ab);
  const double volume = std::fabs(math::dot(box, bc));
  return {volume / math::norm3(bc), volume / math::norm3(ca), volume / math::norm3(ab)};
}

/// Inverse of the 3x3 matrix whose rows are a, b, c: f = r · inv gives fractional coordinates.
std::array<double, 9> inverse(const double* m) {
  double c0[3], c1[3], c2[3];
  math::cross(m + 3, m + 6, c0);
  math::cross(m + 6, m, c1);
  math::cross(m, m + 3, c2);
  const double det = math::dot(m, c0);
  // (rows a, b, c)^-1 has columns (b x c, c x a, a x b) / det.
  return {c0[0] / det, c1[0] / det, c2[0] / det, c0[1] / det, c1[1] / det,
          c2[1] / det, c0[2] / det, c1[2] / det, c2[2] / det};
}

struct Grid {
  int nb[3];
  bool periodic;
  std::vector<int> binStart, binAtoms;  // CSR of atoms per bin (ascending atom index)
  std::vector<int> cell;                // (n, 3) bin coordinates of each atom
  std::vector<double> wraps;            // (n, 3) integer lattice offsets removed by wrapping
};

Grid makeGrid(const double* pos, int n, const double* box, double cutoff) {
  Grid g{{1, 1, 1}, box != nullptr, {}, {}, std::vector<int>(3 * n), std::vector<double>(3 * n, 0.0)};
  std::vector<double> frac(3 * n);
  if (box) {
    const auto h = heights(box);
    const auto inv = inverse(box);
    for (int k = 0; k < 3; ++k) g.nb[k] = std::max(1, static_cast<int>(std::floor(h[k] / cutoff)));
    for (int i = 0; i < n; ++i)
      for (int k = 0; k < 3; ++k) {
        const double* r = pos + 3 * i;
        const double f = (r[0] * inv[k] + r[1] * inv[3 + k]) + r[2] * inv[6 + k];
        g.wraps[3 * i + k] = std::floor(f);
        frac[3 * i + k] = f - std::floor(f);
      }
  } else {
    double lo[3] = {0, 0, 0}, hi[3] = {0, 0, 0};
    for (int k = 0; k < 3 && n > 0; ++k) {
      lo[k] = hi[k] = pos[k];
      for (int i = 1; i < n; ++i) lo[k] = std::min(lo[k], pos[3 * i + k]), hi[k] = std::max(hi[k], pos[3 * i + k]);
    }
    const int cap = std::max(1, static_cast<int>(std::cbrt(8.0 * n)) + 1);  // bins ~ 8 n at most
    for (int k = 0; k < 3; ++k) {
      const double extent = hi[k] - lo[k];
      g.nb[k] = std::max(1, std::min(cap, static_cast<int>(std::floor(extent / cutoff))));
      for (int i = 0; i < n; ++i) frac[3 * i + k] = extent > 0 ? (pos[3 * i + k] - lo[k]) / extent : 0.0;
    }
  }
  const int numBins = g.nb[0] * g.nb[1] * g.nb[2];
  std::vector<int> binOf(n);
  g.binStart.assign(numBins + 1, 0);
  for (int i = 0; i < n; ++i) {
    for (int k = 0; k < 3; ++k)
      g.cell[3 * i + k] = std::clamp(static_cast<int>(std::floor(frac[3 * i + k] * g.nb[k])), 0, g.nb[k] - 1);
    binOf[i] = (g.cell[3 * i] * g.nb[1] + g.cell[3 * i + 1]) * g.nb[2] + g.cell[3 * i + 2];
    ++g.binStart[binOf[i] + 1];
  }
  for (int b = 0; b < numBins; ++b) g.binStart[b + 1] += g.binStart[b];
  std::vector<int> fill(g.binStart.begin(), g.binStart.end() - 1);
  g.binAtoms.resize(n);
  for (int i = 0; i < n; ++i) g.binAtoms[fill[binOf[i]]++] = i;
  return g;
}

/// Floor division and modulo for bin indices that stepped one bin outside [0, nb).
void wrapBin(int index, int nb, int& bin, int& shift) {
  shift = index < 0 ? -1 : (index >= nb ? 1 : 0);
  bin = index - shift * nb;
}

/// Pairs (i, j > i) of atom i within the cutoff, in the order the bins are visited.
struct Found {
  std::vector<int> j;
  std::vector<double> r;  // (count, 3)
  std::vector<int> count; // per atom of the chunk
};

void collectAtom(const double* pos, const double* box, double cutoff2, const Grid& g, int i, Found& out) {
  int found = 0;
  for (int d0 = -1; d0 <= 1; ++d0)
    for (int d1 = -1; d1 <= 1; ++d1)
      for (int d2 = -1; d2 <= 1; ++d2) {
        const int delta[3] = {d0, d1, d2};
        int bin[3], shift[3];
        bool skip = false;
        for (int k = 0; k < 3; ++k) {
          const int index = g.cell[3 * i + k] + delta[k];
          if (!g.periodic && (index < 0 || index >= g.nb[k])) skip = true;
          wrapBin(index, g.nb[k], bin[k], shift[k]);
          if (!g.periodic) shift[k] = 0;
        }
        // Periodic boxes have nb >= 2 (height >= 2 r_c), so every (bin, shift) visited is a
        // distinct image; without periodicity bins outside the grid do not exist.
        if (skip) continue;
        const int b = (bin[0] * g.nb[1] + bin[1]) * g.nb[2] + bin[2];
        for (int e = g.binStart[b]; e < g.binStart[b + 1]; ++e) {
          const int j = g.binAtoms[e];
          if (j <= i) continue;
          double r[3];
          double m[3] = {0, 0, 0};
          if (g.periodic)
            for (int k = 0; k < 3; ++k) m[k] = shift[k] + g.wraps[3 * i + k] - g.wraps[3 * j + k];
          for (int a = 0; a < 3; ++a) {
            const double image = box ? (m[0] * box[a] + m[1] * box[3 + a]) + m[2] * box[6 + a] : 0.0;
            r[a] = (pos[3 * j + a] - pos[3 * i + a]) + image;
          }
          const double d2 = (r[0] * r[0] + r[1] * r[1]) + r[2] * r[2];
          if (!(d2 < cutoff2)) continue;
          if (d2 == 0.0)
            throw InputError("atoms " + std::to_string(i) + " and " + std::to_string(j) +
                             " are at the same position (or periodic image): " + vectorString(pos + 3 * i));
          out.j.push_back(j);
          out.r.insert(out.r.end(), r, r + 3);
          ++found;
        }
      }
  out.count.push_back(found);
}

/// Pairs in atom order (each atom's in bin order), found in parallel chunks of atoms.
void collectPairs(const double* pos, int n, const double* box, double cutoff, const Grid& g, NeighborList& list,
                  int threads) {
  const double cutoff2 = cutoff * cutoff;
  thread_local std::vector<Found> reused;  // per chunk, kept by the calling thread between calls
  std::vector<Found>& chunks = reused;     // (a lambda naming `reused` would see its own thread's)
  const int numChunk = numChunks(n, threads);
  chunks.resize(numChunk);
  parallelChunks(n, threads, [&](int c, int begin, int end) {
    Found& f = chunks[c];
    f.j.clear(), f.r.clear(), f.count.clear();
    for (int i = begin; i < end; ++i) collectAtom(pos, box, cutoff2, g, i, f);
  });
  std::vector<int> offset(numChunk + 1, 0);
  for (int c = 0; c < numChunk; ++c) offset[c + 1] = offset[c] + static_cast<int>(chunks[c].j.size());
  const int P = offset[numChunk];
  list.pairI.resize(P), list.pairJ.resize(P), list.pairR.resize(3 * static_cast<size_t>(P)), list.pairD.resize(P);
  parallelChunks(n, threads, [&](int c, int begin, int end) {
    const Found& f = chunks[c];
    int p = offset[c], k = 0;
    for (int i = begin; i < end; ++i)
      for (int q = 0; q < f.count[i - begin]; ++q, ++p, ++k) {
        list.pairI[p] = i;
        list.pairJ[p] = f.j[k];
        for (int a = 0; a < 3; ++a) list.pairR[3 * static_cast<size_t>(p) + a] = f.r[3 * static_cast<size_t>(k) + a];
        list.pairD[p] = math::norm3(&list.pairR[3 * static_cast<size_t>(p)]);
      }
  });
}

/// Directed edges grouped by center (counting sort), each center's sorted by (neighbour, pair).
void buildEdges(int n, NeighborList& list, int threads) {
  const int P = list.numPairs();
  list.start.assign(n + 1, 0);
  for (int p = 0; p < P; ++p) ++list.start[list.pairI[p] + 1], ++list.start[list.pairJ[p] + 1];
  for (int a = 0; a < n; ++a) list.start[a + 1] += list.start[a];
  list.neighbour.resize(2 * P), list.pair.resize(2 * P), list.sign.resize(2 * P), list.reverse.resize(2 * P);
  list.pairEdge.resize(2 * P);
  {
    std::vector<int> fill(list.start.begin(), list.start.end() - 1);
    for (int p = 0; p < P; ++p) {
      const int i = list.pairI[p], j = list.pairJ[p];
      list.neighbour[fill[i]] = j, list.pair[fill[i]++] = p;
      list.neighbour[fill[j]] = i, list.pair[fill[j]++] = p;
    }
  }
  parallelFor(n, threads, [&](int begin, int end) {
    std::vector<std::pair<int, int>> keys;
    for (int a = begin; a < end; ++a) {
      const int e0 = list.start[a], e1 = list.start[a + 1];
      keys.clear();
      for (int e = e0; e < e1; ++e) keys.emplace_back(list.neighbour[e], list.pair[e]);
      std::sort(keys.begin(), keys.end());
      for (int e = e0; e < e1; ++e) {
        const int p = keys[e - e0].second;
        list.neighbour[e] = keys[e - e0].first;
        list.pair[e] = p;
        const bool forward = a == list.pairI[p];
        list.sign[e] = forward ? 1.0 : -1.0;
        list.pairEdge[2 * p + (forward ? 0 : 1)] = e;
      }
    }
  });
  parallelFor(P, threads, [&](int begin, int end) {
    for (int p = begin; p < end; ++p) {
      list.reverse[list.pairEdge[2 * p]] = list.pairEdge[2 * p + 1];
      list.reverse[list.pairEdge[2 * p + 1]] = list.pairEdge[2 * p];
    }
  });
}

}  // namespace

void checkGeometry(const double* positions, int n, const double* box, double cutoff) {
  for (int i = 0; i < n; ++i)
    for (int a = 0; a < 3; ++a)
      if (!std::isfinite(positions[3 * i + a]))
        throw InputError("position of atom " + std::to_string(i) + " is not finite: " + vectorString(positions + 3 * i));
  if (!box) return;
  for (int k = 0; k < 9; ++k)
    if (!std::isfinite(box[k])) throw InputError("periodic box holds a non-finite number");
  const auto h = heights(box);
  const char* names = "abc";
  const std::string described = "periodic box a = " + vectorString(box) + ", b = " + vectorString(box + 3) +
                                ", c = " + vectorString(box + 6) + " Å";
  for (int k = 0; k < 3; ++k)
    if (!(h[k] >= 2.0 * cutoff)) {
      std::ostringstream out;
      out << described << " has height " << h[k] << " Å along " << names[k] << ", less than 2 x cutoff = "
          << 2.0 * cutoff << " Å (cutoff " << cutoff << " Å); use a larger box";
      throw InputError(out.str());
    }
}

void buildNeighborList(const double* positions, int n, const double* box, double cutoff, NeighborList& list,
                       int threads) {
  const Grid grid = makeGrid(positions, n, box, cutoff);
  collectPairs(positions, n, box, cutoff, grid, list, threads);
  buildEdges(n, list, threads);
}

NeighborList buildNeighborList(const double* positions, int n, const double* box, double cutoff) {
  NeighborList list;
  buildNeighborList(positions, n, box, cutoff, list, 1);
  return list;
}

}  // namespace gaqmd
