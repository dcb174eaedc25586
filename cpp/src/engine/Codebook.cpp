// Exact bucketed nearest-codeword lookup (see Codebook.h). Cells: a cube map, face = the axis of
// largest |u_a| and its sign, and on the face the ratios (p, q) of the other two components to it,
// each warped by g (monotone, close to the equal-angle map) and cut into equal intervals. A cell is
// thus bounded by four planes through the origin: a geodesic quadrilateral, whose farthest point
// from any inner direction is a corner. No transcendental and one division per lookup.
//
// Exactness argument, per cell X with centre a and reach R (largest angle from a to X's corners,
// plus kAssignTol for round-off in the cell assignment): the true nearest point of a direction u in
// X is within d*(a) + R of a; with scores off by at most kScoreTol, the computed winner is within
// θ' = acos(cos(d* + R) - 2 kScoreTol) of u, hence within θ' + R of a. Each cell lists every point
// within θ' + R (+ kBuildSlack) of a.

#include "gaqmd/engine/Codebook.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>

#include "gaqmd/math/quant.h"

namespace gaqmd {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kScoreTol = 1e-5;
constexpr double kAssignTol = 1e-5;
constexpr double kBuildSlack = 1e-7;

/// g(p) = p (A - B p²) on [-1, 1]: g(±1) = ±1, slope 4/π at 0 like the equal-angle map 4 atan(p)/π.
constexpr double kWarpA = 1.2732395447351628, kWarpB = kWarpA - 1.0;
inline double warp(double p) { return p * (kWarpA - kWarpB * (p * p)); }

/// g⁻¹ by bisection (g is increasing on [-1, 1]).
double unwarp(double g) {
  double lo = -1.0, hi = 1.0;
  for (int it = 0; it < 200 && lo < hi; ++it) {
    const double mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;
    (warp(mid) < g ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

/// Cell index along a face edge of the warped ratio g(p) (n cells).
inline int faceIndex(double p, int n) {
  const int i = static_cast<int>((warp(p) + 1.0) * (0.5 * n));  // >= 0 up to round-off: truncation = floor
  return std::clamp(i, 0, n - 1);
}

/// The unit direction of face `face` (axis face / 2, sign - for odd faces) at ratios (p, q).
void faceDirection(int face, double p, double q, double* out) {
  const int axis = face / 2;
  double v[3];
  v[axis] = face % 2 ? -1.0 : 1.0;
  v[(axis + 1) % 3] = p;
  v[(axis + 2) % 3] = q;
  const double norm = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
  for (int a = 0; a < 3; ++a) out[a] = v[a] / norm;
}

double chordAngle(double chord) { return 2.0 * std::asin(std::min(1.0, 0.5 * chord)); }

double chord(const double* a, const double* b) {
  const double dx = a[0] - b[0], dy = a[1] - b[1], dz = a[2] - b[2];
  return std::sqrt(dx * dx + dy * dy + dz * dz);
}

/// Points binned on a z-phi grid, and a superset range search for spherical caps (build only).
struct PointBins {
  int nZ, nPhi;
  std::vector<int> offsets, points;

  PointBins(const std::vector<double>& xyz, double side) {
    const int K = static_cast<int>(xyz.size() / 3);
    nZ = std::max(2, static_cast<int>(std::ceil(2.0 / side)));
    nPhi = std::max(4, static_cast<int>(std::ceil(2.0 * kPi / side)));
    offsets.assign(nZ * nPhi + 1, 0);
    points.resize(K);
    std::vector<int> binOfPoint(K);
    for (int k = 0; k < K; ++k) {
      binOfPoint[k] = binOf(&xyz[3 * k]);
      ++offsets[binOfPoint[k] + 1];
    }
    for (int c = 0; c < nZ * nPhi; ++c) offsets[c + 1] += offsets[c];
    std::vector<int> fill(offsets.begin(), offsets.end() - 1);
    for (int k = 0; k < K; ++k) points[fill[binOfPoint[k]]++] = k;
  }

  int binOf(const double* u) const {
    const double norm = std::sqrt((u[0] * u[0] + u[1] * u[1]) + u[2] * u[2]);
    const double z = norm > 0.0 ? u[2] / norm : 1.0;
    const int iz = std::clamp(static_cast<int>(std::floor((z + 1.0) * (0.5 * nZ))), 0, nZ - 1);
    const double phi = std::atan2(u[1], u[0]);
    const int ip = std::clamp(static_cast<int>(std::floor((phi + kPi) * (nPhi / (2.0 * kPi)))), 0, nPhi - 1);
    return iz * nPhi + ip;
  }

  /// Calls f(k) for every point k that may lie within angle L of the unit direction a; the caller
  /// tests the exact distance. Bins get a one-bin margin against round-off.
  template <class F>
  void forCap(const double* a, double L, F f) const {
    const double thetaA = std::acos(std::clamp(a[2], -1.0, 1.0)), phiA = std::atan2(a[1], a[0]);
    const double t0 = thetaA - L, t1 = thetaA + L;
    const bool pole = t0 <= 0.0 || t1 >= kPi;
    const double zHi = t0 <= 0.0 ? 1.0 : std::cos(t0), zLo = t1 >= kPi ? -1.0 : std::cos(t1);
    const int iz0 = std::clamp(static_cast<int>(std::floor((zLo + 1.0) * 0.5 * nZ)) - 1, 0, nZ - 1);
    const int iz1 = std::clamp(static_cast<int>(std::floor((zHi + 1.0) * 0.5 * nZ)) + 1, 0, nZ - 1);
    int ip0 = 0, ip1 = nPhi - 1;
    if (!pole && std::sin(L) < std::sin(thetaA)) {
      const double dphi = std::asin(std::sin(L) / std::sin(thetaA));
      const double perRad = nPhi / (2.0 * kPi);
      ip0 = static_cast<int>(std::floor((phiA - dphi + kPi) * perRad)) - 1;
      ip1 = static_cast<int>(std::floor((phiA + dphi + kPi) * perRad)) + 1;
      if (ip1 - ip0 + 1 >= nPhi) ip0 = 0, ip1 = nPhi - 1;
    }
    for (int iz = iz0; iz <= iz1; ++iz)
      for (int ip = ip0; ip <= ip1; ++ip) {
        const int bin = iz * nPhi + ((ip % nPhi) + nPhi) % nPhi;
        for (int e = offsets[bin]; e < offsets[bin + 1]; ++e) f(points[e]);
      }
  }
};

}  // namespace

/// Whether some other candidate j out-scores k by more than the round-off margin for every
/// direction the lookup may assign to the cell: u·(p_j - p_k) over a geodesic quadrilateral is at
/// least its smallest value at the corners (u is a normalized positive combination of them), and
/// a direction assigned within kAssignTol of the cell moves it by at most kAssignTol |p_j - p_k|.
/// Such a k is never the brute-force winner (j's computed score is higher), so it is not listed.
bool Codebook::beatenEverywhere(int k, const std::vector<int>& listed, const double (*corners)[3]) const {
  for (int j : listed) {
    if (j == k) continue;
    const double w[3] = {point(j)[0] - point(k)[0], point(j)[1] - point(k)[1], point(j)[2] - point(k)[2]};
    const double margin = 2.0 * kScoreTol + kAssignTol * std::sqrt(w[0] * w[0] + w[1] * w[1] + w[2] * w[2]) + 1e-12;
    bool everywhere = true;
    for (int c = 0; c < 4 && everywhere; ++c)
      everywhere = corners[c][0] * w[0] + corners[c][1] * w[1] + corners[c][2] * w[2] > margin;
    if (everywhere) return true;
  }
  return false;
}

Codebook::Codebook(std::vector<double> points, double cellScale) : points_(std::move(points)) { build(cellScale); }

std::shared_ptr<const Codebook> Codebook::shared(const std::vector<double>& points) {
  static std::mutex mutex;
  static std::vector<std::weak_ptr<const Codebook>> live;
  const std::lock_guard<std::mutex> lock(mutex);
  live.erase(std::remove_if(live.begin(), live.end(), [](const auto& w) { return w.expired(); }), live.end());
  for (const auto& weak : live)
    if (auto book = weak.lock(); book && book->points_ == points) return book;
  auto book = std::make_shared<const Codebook>(points);
  live.push_back(book);
  return book;
}

int Codebook::cellOf(const double* u) const {
  const double ax = std::fabs(u[0]), ay = std::fabs(u[1]), az = std::fabs(u[2]);
  if (!(ax + ay + az > 0.0) || !(ax + ay + az < std::numeric_limits<double>::infinity())) return -1;
  const int axis = ax >= ay ? (ax >= az ? 0 : 2) : (ay >= az ? 1 : 2);
  const double major = u[axis], inverse = 1.0 / std::fabs(major);
  const int face = 2 * axis + (major < 0.0 ? 1 : 0), n = cellsPerEdge_;
  const int i = faceIndex(u[(axis + 1) % 3] * inverse, n), j = faceIndex(u[(axis + 2) % 3] * inverse, n);
  return (face * n + i) * n + j;
}

int Codebook::bestOf(const double* u, int cell) const {
  if (cell < 0) return -1;
  double best = -std::numeric_limits<double>::infinity();
  int winner = -1;
  for (int e = offsets_[cell]; e < offsets_[cell + 1]; ++e) {
    const double score = math::codebookScore(u, candidates_[e].p);
    const bool better = score > best;  // selects, not branches: which candidate wins is unpredictable
    best = better ? score : best;
    winner = better ? e : winner;
  }
  return winner;
}

int Codebook::nearest(const double* u) const {
  const int winner = bestOf(u, cellOf(u));
  return winner < 0 ? 0 : candidates_[winner].index;
}

void Codebook::nearestBatch(const double* u, int n, int* out, double* winners) const {
  constexpr int kChunk = 32;
  int cells[kChunk];
  for (int i0 = 0; i0 < n; i0 += kChunk) {
    const int count = std::min(kChunk, n - i0);
    for (int i = 0; i < count; ++i) {
      cells[i] = cellOf(u + 3 * (i0 + i));
      if (cells[i] >= 0) __builtin_prefetch(&offsets_[cells[i]]);
    }
    for (int i = 0; i < count; ++i)
      if (cells[i] >= 0) {
        const char* first = reinterpret_cast<const char*>(&candidates_[offsets_[cells[i]]]);
        const char* last = reinterpret_cast<const char*>(&candidates_[offsets_[cells[i] + 1]]);
        for (const char* line = first; line < last; line += 64) __builtin_prefetch(line);
      }
    for (int i = 0; i < count; ++i) {
      const int winner = bestOf(u + 3 * (i0 + i), cells[i]);
      const int k = winner < 0 ? 0 : candidates_[winner].index;
      out[i0 + i] = k;
      if (winners) {
        const double* p = winner < 0 ? point(0) : candidates_[winner].p;
        std::copy(p, p + 3, winners + 3 * (i0 + i));
      }
    }
  }
}

int Codebook::nearestBruteForce(const double* u) const {
  double best = -std::numeric_limits<double>::infinity();
  int index = 0;
  for (int k = 0; k < size(); ++k) {
    const double score = math::codebookScore(u, point(k));
    if (score > best) {
      best = score;
      index = k;
    }
  }
  return index;
}

void Codebook::build(double cellScale) {
  const int K = size();
  const double spacing = std::sqrt(4.0 * kPi / std::max(K, 1));
  const int n = cellsPerEdge_ = std::max(1, static_cast<int>(std::ceil(0.5 * kPi / (cellScale * spacing))));
  const PointBins bins(points_, 0.5 * spacing);
  std::vector<double> edge(n + 1), middle(n);  // face ratios at the cell edges and centres
  for (int i = 0; i <= n; ++i) edge[i] = i == 0 ? -1.0 : (i == n ? 1.0 : unwarp(2.0 * i / n - 1.0));
  for (int i = 0; i < n; ++i) middle[i] = unwarp((2.0 * i + 1.0) / n - 1.0);
  offsets_.assign(1, 0);
  candidates_.clear();
  std::vector<int> listed;
  for (int face = 0; face < 6; ++face)
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) {
        double a[3], corners[4][3], reach = 0.0;
        faceDirection(face, middle[i], middle[j], a);
        for (int c = 0; c < 4; ++c) {
          faceDirection(face, edge[i + c / 2], edge[j + c % 2], corners[c]);
          reach = std::max(reach, chordAngle(chord(a, corners[c])));
        }
        reach += kAssignTol;
        // d*(a): the nearest point, searching caps of growing radius.
        double nearestChord = 2.0;
        for (double L = 2.0 * spacing;; L *= 2.0) {
          const double limit = 2.0 * std::sin(0.5 * std::min(L, kPi));
          bins.forCap(a, std::min(L, kPi), [&](int k) {
            const double c = chord(a, point(k));
            if (c <= limit) nearestChord = std::min(nearestChord, c);
          });
          if (nearestChord <= limit || L >= kPi) break;
        }
        const double rho = chordAngle(nearestChord) + reach;
        const double winner = std::acos(std::max(std::cos(rho) - 2.0 * kScoreTol, -1.0));
        const double L = winner + reach + kBuildSlack;
        listed.clear();
        if (L >= kPi) {
          for (int k = 0; k < K; ++k) listed.push_back(k);
        } else {
          const double limit = 2.0 * std::sin(0.5 * L);
          bins.forCap(a, L, [&](int k) {
            if (chord(a, point(k)) <= limit) listed.push_back(k);
          });
          std::sort(listed.begin(), listed.end());
          listed.erase(std::unique(listed.begin(), listed.end()), listed.end());
        }
        for (int k : listed)
          if (!beatenEverywhere(k, listed, corners)) candidates_.push_back({{point(k)[0], point(k)[1], point(k)[2]}, k});
        offsets_.push_back(static_cast<int>(candidates_.size()));
      }
}

}  // namespace gaqmd
