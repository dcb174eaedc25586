// Conservative candidate lists per (z, φ) cell for the CUDA codebook lookup (CodebookCells.h).

#include "CodebookCells.h"

#include <algorithm>
#include <cmath>

#include "gaqmd/cuda/CodebookCells.h"

namespace gaqmd::cuda {
namespace {

constexpr double kPi = 3.141592653589793;

struct Cell {
  double z0, z1, p0, p1;
};

void direction(double z, double phi, double* u) {
  const double r = std::sqrt(std::max(0.0, 1.0 - z * z));
  u[0] = r * std::cos(phi), u[1] = r * std::sin(phi), u[2] = z;
}

double angle(const double* a, const double* b) {
  const double c = (a[0] * b[0] + a[1] * b[1]) + a[2] * b[2];
  return std::acos(std::max(-1.0, std::min(1.0, c)));
}

/// The largest angle from the centre to the cell's boundary (sampled), with a margin for the samples
/// and for directions a rounding away outside the cell.
double cellRadius(const Cell& c, const double* centre) {
  constexpr int kSamples = 32;
  double radius = 0, u[3];
  for (int s = 0; s <= kSamples; ++s) {
    const double t = static_cast<double>(s) / kSamples;
    const double z = c.z0 + t * (c.z1 - c.z0), phi = c.p0 + t * (c.p1 - c.p0);
    const double edges[4][2] = {{z, c.p0}, {z, c.p1}, {c.z0, phi}, {c.z1, phi}};  // (z, φ) on each edge
    for (const auto& zp : edges) {
      direction(zp[0], zp[1], u);
      radius = std::max(radius, angle(centre, u));
    }
  }
  return radius * 1.02 + 1e-9;
}

}  // namespace

CodebookCells buildCodebookCells(const Codebook& codebook) {
  const int K = codebook.size();
  const double spacing = std::sqrt(4 * kPi / K);
  CodebookCells cells;
  cells.nZ = std::max(1, static_cast<int>(std::ceil(1.0 / spacing)));
  cells.nPhi = std::max(1, static_cast<int>(std::ceil(kPi / spacing)));
  const int numCells = cells.nZ * cells.nPhi;
  std::vector<std::vector<int>> binned(numCells);  // points by the cell of their own direction
  for (int k = 0; k < K; ++k) binned[codebookCell(codebook.point(k), cells.nZ, cells.nPhi)].push_back(k);
  cells.offsets.assign(1, 0);
  std::vector<int> found;
  for (int iz = 0; iz < cells.nZ; ++iz)
    for (int ip = 0; ip < cells.nPhi; ++ip) {
      const Cell c{-1.0 + 2.0 * iz / cells.nZ, -1.0 + 2.0 * (iz + 1) / cells.nZ, -kPi + 2 * kPi * ip / cells.nPhi,
                   -kPi + 2 * kPi * (ip + 1) / cells.nPhi};
      double centre[3];
      direction(0.5 * (c.z0 + c.z1), 0.5 * (c.p0 + c.p1), centre);
      const double rho = cellRadius(c, centre);
      const double reach = angle(centre, codebook.point(codebook.nearest(centre))) + 2 * rho + 1e-9;
      // Rows and columns that can hold a point within `reach` of the centre (one cell of slack).
      const double polar = std::acos(centre[2]);
      const double zHigh = polar - reach <= 0 ? 1.0 : std::cos(polar - reach);
      const double zLow = polar + reach >= kPi ? -1.0 : std::cos(polar + reach);
      const int izLow = std::max(0, static_cast<int>((zLow + 1.0) * 0.5 * cells.nZ) - 1);
      const int izHigh = std::min(cells.nZ - 1, static_cast<int>((zHigh + 1.0) * 0.5 * cells.nZ) + 1);
      int ipFrom = 0, ipCount = cells.nPhi;
      if (polar - reach > 0 && polar + reach < kPi) {
        const double halfWidth = std::asin(std::min(1.0, std::sin(reach) / std::sin(polar)));
        const int span = static_cast<int>(std::ceil(halfWidth / (2 * kPi) * cells.nPhi)) + 1;
        if (2 * span + 1 < cells.nPhi) ipFrom = ip - span, ipCount = 2 * span + 1;
      }
      found.clear();
      const double cosReach = std::cos(std::min(reach, kPi));
      for (int jz = izLow; jz <= izHigh; ++jz)
        for (int s = 0; s < ipCount; ++s) {
          const int jp = ((ipFrom + s) % cells.nPhi + cells.nPhi) % cells.nPhi;
          for (int k : binned[jz * cells.nPhi + jp]) {
            const double* p = codebook.point(k);
            if ((centre[0] * p[0] + centre[1] * p[1]) + centre[2] * p[2] >= cosReach - 1e-12) found.push_back(k);
          }
        }
      std::sort(found.begin(), found.end());
      cells.indices.insert(cells.indices.end(), found.begin(), found.end());
      cells.offsets.push_back(static_cast<int>(cells.indices.size()));
    }
  return cells;
}

}  // namespace gaqmd::cuda
