#pragma once
// Engine-internal: the half neighbour list (each unordered pair within r_c once) and the directed
// edges derived from it, grouped by center atom (CSR) in a fixed order.

#include <vector>

namespace gaqmd {

struct NeighborList {
  // Pairs p: atoms (i[p] < j[p]), r[p] = x_j - x_i + image shift (3, Å), distance d[p] (Å).
  std::vector<int> pairI, pairJ;
  std::vector<double> pairR, pairD;
  // Directed edges e of center atom a: start[a] <= e < start[a+1], sorted by (neighbour, pair).
  // Edge e: neighbour[e], pair[e], sign[e] (+1: r_e = r[pair], center = pairI; -1: r_e = -r[pair]),
  // reverse[e]: the edge of the same pair seen from the neighbour.
  std::vector<int> start, neighbour, pair, reverse;
  std::vector<double> sign;
  // pairEdge[2p]: the edge of pair p with center pairI, pairEdge[2p+1]: with center pairJ.
  std::vector<int> pairEdge;

  int numAtoms() const { return static_cast<int>(start.size()) - 1; }
  int numPairs() const { return static_cast<int>(pairD.size()); }
  int numEdges() const { return static_cast<int>(neighbour.size()); }
};

/// Throws InputError for a non-finite position (naming the atom) or, with box (9 numbers, rows a,
/// b, c in Å), for a degenerate box or one whose height along any lattice vector is below 2 r_c.
void checkGeometry(const double* positions, int n, const double* box, double cutoff);

/// Cell-list search: every pair with d < cutoff, minimum image in a periodic box (box != nullptr).
NeighborList buildNeighborList(const double* positions, int n, const double* box, double cutoff);
/// The same into `list` (its vectors reused); threads: worker threads for the search.
void buildNeighborList(const double* positions, int n, const double* box, double cutoff, NeighborList& list,
                       int threads);

}  // namespace gaqmd
