#pragma once
// Codebook lookup through a cell table (docs/cuda.md): directions are binned on a (z, φ) grid and
// each cell lists, in ascending index, every codebook point that can be the nearest for a direction
// in it (cuda/src/CodebookCells.cpp builds the lists conservatively), so scanning a cell's list
// with the brute-force rule (highest score, lowest index on ties) gives the brute-force answer.

#include "gaqmd/cuda/Layout.h"

namespace gaqmd::cuda {

constexpr double kTwoPi = 6.283185307179586;

/// Cell (flat index iz nPhi + iφ) of a unit direction: z = u_z in [-1, 1] in nZ rows, φ = atan2(u_y, u_x)
/// in [-π, π] in nPhi columns.
GAQMD_HD inline int codebookCell(const double* u, int nZ, int nPhi) {
  const double z = u[2] < -1.0 ? -1.0 : (u[2] > 1.0 ? 1.0 : u[2]);
  int iz = static_cast<int>((z + 1.0) * 0.5 * nZ);
  int ip = static_cast<int>((atan2(u[1], u[0]) + 0.5 * kTwoPi) / kTwoPi * nPhi);
  iz = iz < 0 ? 0 : (iz >= nZ ? nZ - 1 : iz);
  ip = ip < 0 ? 0 : (ip >= nPhi ? nPhi - 1 : ip);
  return iz * nPhi + ip;
}

/// Index of the codebook point maximising (u_x p_x + u_y p_y) + u_z p_z, lowest on ties: through the
/// cell table when the model has one, else by scanning all K points.
template <typename Real>
GAQMD_HD inline int nearestCodeword(const Params<Real>& P, const double* u) {
  int begin = 0, end = P.codebookSize;
  const int* list = nullptr;
  if (P.codebookNZ > 0) {
    const int cell = codebookCell(u, P.codebookNZ, P.codebookNPhi);
    begin = P.ints[P.codebookOffsets + cell], end = P.ints[P.codebookOffsets + cell + 1];
    list = P.ints + P.codebookIndices;
  }
  int best = -1;
  double bestScore = 0;
  for (int s = begin; s < end; ++s) {
    const int k = list ? list[s] : s;
    const Real* p = P.values + P.codebook + 3 * k;
    const double score = (u[0] * static_cast<double>(p[0]) + u[1] * static_cast<double>(p[1])) +
                         u[2] * static_cast<double>(p[2]);
    if (best < 0 || score > bestScore) best = k, bestScore = score;
  }
  return best < 0 ? 0 : best;
}

}  // namespace gaqmd::cuda
