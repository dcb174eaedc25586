#pragma once
// The cell table of the CUDA codebook lookup (cuda/include/gaqmd/cuda/CodebookCells.h).

#include <vector>

#include "gaqmd/engine/Codebook.h"

namespace gaqmd::cuda {

struct CodebookCells {
  int nZ = 0, nPhi = 0;
  std::vector<int> offsets;  // (nZ nPhi + 1): cell c lists indices[offsets[c] .. offsets[c + 1])
  std::vector<int> indices;  // candidate points, ascending within each cell
};

/// Cells about two point spacings wide. A cell lists every point p with angle(ĉ, p) <= θ* + 2ρ
/// (ĉ the cell's centre, θ* the angle from ĉ to its nearest point, ρ a bound on the angle from ĉ
/// to any direction in the cell): for u in the cell, angle(u, nearest) <= angle(u, p*) <= θ* + ρ,
/// and so angle(ĉ, nearest) <= θ* + 2ρ.
CodebookCells buildCodebookCells(const Codebook& codebook);

}  // namespace gaqmd::cuda
