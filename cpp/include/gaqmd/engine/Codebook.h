#pragma once
// Exact nearest-codeword lookup for MDDQ directions (docs/format.md, "nearest"): the index
// maximising (u_x p_x + u_y p_y) + u_z p_z, lowest index on ties, via a cube-map bucket table whose
// cells list every point that can win for a direction in the cell (the reach criterion of
// python/gaqmd/quant/codebook.py, then a corner test, Codebook.cpp), built by a range search over
// points binned on a z-phi grid.

#include <memory>
#include <vector>

namespace gaqmd {

class Codebook {
 public:
  /// points (K, 3) row-major unit vectors; cellScale: cell side in units of the point spacing.
  explicit Codebook(std::vector<double> points, double cellScale = 1.0);

  int size() const { return static_cast<int>(points_.size() / 3); }
  const double* point(int k) const { return points_.data() + 3 * k; }

  /// Index of the best point for direction u (any norm); the zero vector (or NaN) gives 0.
  int nearest(const double* u) const;
  /// nearest() of n directions u (n, 3) -> out (n), the same results, and (unless nullptr) the
  /// winners' coordinates -> winners (n, 3), read from the table's copy that the lookup has just
  /// loaded; the memory accesses of the lookups are prefetched stage by stage so that their cache
  /// misses overlap.
  void nearestBatch(const double* u, int n, int* out, double* winners = nullptr) const;
  /// The brute-force reference (all K scores).
  int nearestBruteForce(const double* u) const;

  /// A codebook for `points`, shared with every live engine built from the same points (the table
  /// build takes ~0.4 s at K = 65536; OpenMM builds an engine per Context).
  static std::shared_ptr<const Codebook> shared(const std::vector<double>& points);

  int numCells() const { return 6 * cellsPerEdge_ * cellsPerEdge_; }
  long long numEntries() const { return static_cast<long long>(candidates_.size()); }

 private:
  /// A cell's candidate: the point's coordinates inline (one contiguous run per cell) and index.
  struct Candidate {
    double p[3];
    int index;
  };

  int cellOf(const double* u) const;  // -1 for the zero vector / NaN / infinite components
  int bestOf(const double* u, int cell) const;  // the winning entry of candidates_, -1: none
  void build(double cellScale);
  bool beatenEverywhere(int k, const std::vector<int>& listed, const double (*corners)[3]) const;

  std::vector<double> points_;
  int cellsPerEdge_ = 0;  // cells along a cube face's edge
  std::vector<int> offsets_;
  std::vector<Candidate> candidates_;  // CSR: the candidates of each cell, ascending index
};

}  // namespace gaqmd
