// Exact bucketed nearest-codeword lookup (see Codebook.h). Exactness argument, per cell X with
// centre a and reach R (largest angle from a to X's corners, plus kAssignTol for round-off in the
// cell assignment): the true nearest point of a direction u in X is within d*(a) + R of a; with
// scores off by at most kScoreTol, the computed winner is within θ' = acos(cos(d* + R) - 2 kScoreTol)
// of u, hence within θ' + R of a. Each cell lists every point within θ' + R (+ kBuildSlack) of a.

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

double chordAngle(double chord) { return 2.0 * std::asin(std::min(1.0, 0.5 * chord)); }

void unitFromZPhi(double z, double phi, double* out) {
  const double rho = std::sqrt(std::max(0.0, 1.0 - z * z));
  out[0] = rho * std::cos(phi);
  out[1] = rho * std::sin(phi);
  out[2] = z;
}

double chord(const double* a, const double* b) {
  const double dx = a[0] - b[0], dy = a[1] - b[1], dz = a[2] - b[2];
  return std::sqrt(dx * dx + dy * dy + dz * dz);
}

}  // namespace

Codebook::Codebook(std::vector<double> points, double cellScale) : points_(std::move(points)) {
  const int K = size();
  const double side = cellScale * std::sqrt(4.0 * kPi / std::max(K, 1));
  nZ_ = std::max(2, static_cast<int>(std::ceil(2.0 / side)));
  nPhi_ = std::max(4, static_cast<int>(std::ceil(2.0 * kPi / side)));
  build();
}

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
  const double x = u[0], y = u[1], z = u[2];
  const double norm = std::sqrt((x * x + y * y) + z * z);
  if (!(norm > 0.0)) return -1;
  const double cosTheta = z / norm;
  const int iz = std::clamp(static_cast<int>(std::floor((cosTheta + 1.0) * (0.5 * nZ_))), 0, nZ_ - 1);
  const double phi = std::atan2(y, x);
  const int iphi = std::clamp(static_cast<int>(std::floor((phi + kPi) * (nPhi_ / (2.0 * kPi)))), 0, nPhi_ - 1);
  return iz * nPhi_ + iphi;
}

int Codebook::nearest(const double* u) const {
  const int cell = cellOf(u);
  if (cell < 0) return 0;
  double best = -std::numeric_limits<double>::infinity();
  int index = 0;
  for (int e = offsets_[cell]; e < offsets_[cell + 1]; ++e) {
    const int k = indices_[e];
    const double score = math::codebookScore(u, point(k));
    if (score > best) {
      best = score;
      index = k;
    }
  }
  return index;
}

void Codebook::nearestBatch(const double* u, int n, int* out) const {
  constexpr int kChunk = 32;
  int cells[kChunk];
  for (int i0 = 0; i0 < n; i0 += kChunk) {
    const int count = std::min(kChunk, n - i0);
    for (int i = 0; i < count; ++i) {
      cells[i] = cellOf(u + 3 * (i0 + i));
      if (cells[i] >= 0) __builtin_prefetch(&offsets_[cells[i]]);
    }
    for (int i = 0; i < count; ++i)
      if (cells[i] >= 0) __builtin_prefetch(&indices_[offsets_[cells[i]]]);
    for (int i = 0; i < count; ++i)
      if (cells[i] >= 0)
        for (int e = offsets_[cells[i]]; e < offsets_[cells[i] + 1]; ++e) __builtin_prefetch(point(indices_[e]));
    for (int i = 0; i < count; ++i) {
      const int cell = cells[i];
      const double* v = u + 3 * (i0 + i);
      double best = -std::numeric_limits<double>::infinity();
      int index = 0;
      if (cell >= 0)
        for (int e = offsets_[cell]; e < offsets_[cell + 1]; ++e) {
          const int k = indices_[e];
          const double score = math::codebookScore(v, point(k));
          if (score > best) {
            best = score;
            index = k;
          }
        }
      out[i0 + i] = index;
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

namespace {

/// Points binned on the z-phi grid, and a superset range search for spherical caps.
struct PointBins {
  int nZ, nPhi;
  std::vector<int> offsets, points;

  /// Calls f(k) for every point k that may lie within angle L of the direction (thetaA, phiA);
  /// the caller tests the exact distance. Bins get a one-bin margin against round-off.
  template <class F>
  void forCap(double thetaA, double phiA, double L, F f) const {
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

void Codebook::build() {
  const int K = size(), nCells = nZ_ * nPhi_;
  PointBins bins{nZ_, nPhi_, std::vector<int>(nCells + 1, 0), std::vector<int>(K)};
  std::vector<int> cellOfPoint(K);
  for (int k = 0; k < K; ++k) {
    cellOfPoint[k] = std::max(0, cellOf(point(k)));
    ++bins.offsets[cellOfPoint[k] + 1];
  }
  for (int c = 0; c < nCells; ++c) bins.offsets[c + 1] += bins.offsets[c];
  std::vector<int> fill(bins.offsets.begin(), bins.offsets.end() - 1);
  for (int k = 0; k < K; ++k) bins.points[fill[cellOfPoint[k]]++] = k;

  const double spacing = std::sqrt(4.0 * kPi / std::max(K, 1)), dPhi = 2.0 * kPi / nPhi_;
  offsets_.assign(1, 0);
  indices_.clear();
  std::vector<int> listed;
  for (int iz = 0; iz < nZ_; ++iz) {
    const double zLo = -1.0 + 2.0 * iz / nZ_, zHi = -1.0 + 2.0 * (iz + 1) / nZ_;
    const double thetaMid = 0.5 * (std::acos(zLo) + std::acos(zHi)), zMid = std::cos(thetaMid);
    double centre0[3], corner[3], reach = 0.0;
    unitFromZPhi(zMid, -kPi + 0.5 * dPhi, centre0);
    for (double zc : {zLo, zHi})
      for (double pc : {-kPi, -kPi + dPhi}) {
        unitFromZPhi(zc, pc, corner);
        reach = std::max(reach, chordAngle(chord(centre0, corner)));
      }
    reach += kAssignTol;
    for (int ip = 0; ip < nPhi_; ++ip) {
      const double phiMid = -kPi + (ip + 0.5) * dPhi;
      double a[3];
      unitFromZPhi(zMid, phiMid, a);
      // d*(a): the nearest point, searching caps of growing radius.
      double nearestChord = 2.0;
      for (double L = 2.0 * spacing;; L *= 2.0) {
        const double limit = 2.0 * std::sin(0.5 * std::min(L, kPi));
        bins.forCap(thetaMid, phiMid, std::min(L, kPi), [&](int k) {
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
        bins.forCap(thetaMid, phiMid, L, [&](int k) {
          if (chord(a, point(k)) <= limit) listed.push_back(k);
        });
        std::sort(listed.begin(), listed.end());
        listed.erase(std::unique(listed.begin(), listed.end()), listed.end());
      }
      indices_.insert(indices_.end(), listed.begin(), listed.end());
      offsets_.push_back(static_cast<int>(indices_.size()));
    }
  }
}

}  // namespace gaqmd
