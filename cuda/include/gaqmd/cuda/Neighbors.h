#pragma once
// Positions in, neighbour rows out: the first kernels of a step (docs/cuda.md, "Pipeline").
// Vacuum: every atom scans all others (ML regions without a box are small molecules).
// Periodic: atoms are binned into cells of the box (fractional coordinates, >= r_c thick), each
// atom scans its cell and the neighbouring ones; minimum image through fractional rounding, which
// is exact for any box whose heights are >= 2 r_c (checked on the host).

#include "gaqmd/cuda/Layout.h"

#ifdef __CUDA_ARCH__
#define GAQ_ATOMIC_MAX(target, value) atomicMax((target), (value))
#else
#define GAQ_ATOMIC_MAX(target, value) (*(target) = (*(target) > (value) ? *(target) : (value)))
#endif

namespace gaqmd::cuda {

/// Periodic box in Å: rows a, b, c (h[3 row + col]) and the inverse matrix (s = r · inv, fractional
/// coordinates as a row vector); cells[k]: cells along lattice vector k (>= 2).
struct Box {
  int periodic = 0;
  double h[9] = {}, inv[9] = {};
  int cells[3] = {1, 1, 1};
};

/// Cell lists: cell c holds count[c] <= capacity atoms at atoms[c capacity ..].
struct Cells {
  int capacity = 0;
  int* count = nullptr;  // (numCells,)
  int* atoms = nullptr;  // (numCells capacity,)
};

/// inverse[atomIndex[k]] = k: the posq slot of System particle atomIndex[k] (OpenMM reorders atoms).
GAQMD_HD inline void invertAtomIndex(int k, const int* atomIndex, int* inverse) { inverse[atomIndex[k]] = k; }

/// Position of ML atom i: posq (+ correction: mixed precision's second float4, or nullptr) of its
/// System particle, nm -> Å (scale = 10). Posq: float4 / double4.
template <typename Real, typename Posq>
GAQMD_HD inline void gatherPosition(int i, const Posq* posq, const Posq* correction, const int* inverse,
                                    const int* particles, double scale, Real* pos) {
  const int k = inverse[particles[i]];
  double x[3] = {posq[k].x, posq[k].y, posq[k].z};
  if (correction) x[0] += correction[k].x, x[1] += correction[k].y, x[2] += correction[k].z;
  for (int a = 0; a < 3; ++a) pos[3 * i + a] = static_cast<Real>(x[a] * scale);
}

/// r (3,) -> its minimum image (in place).
template <typename Real>
GAQMD_HD inline void minimumImage(const Box& box, Real* r) {
  double s[3];
  for (int k = 0; k < 3; ++k) s[k] = (r[0] * box.inv[k] + r[1] * box.inv[3 + k]) + r[2] * box.inv[6 + k];
  for (int k = 0; k < 3; ++k) s[k] -= nearbyint(s[k]);
  for (int a = 0; a < 3; ++a) r[a] = static_cast<Real>((s[0] * box.h[a] + s[1] * box.h[3 + a]) + s[2] * box.h[6 + a]);
}

/// Cell (flat index) of a position: fractional coordinates wrapped into [0, 1).
template <typename Real>
GAQMD_HD inline int cellOf(const Box& box, const Real* x, int* cell3) {
  int flat = 0;
  for (int k = 0; k < 3; ++k) {
    double s = (x[0] * box.inv[k] + x[1] * box.inv[3 + k]) + x[2] * box.inv[6 + k];
    s -= floor(s);
    int c = static_cast<int>(s * box.cells[k]);
    c = c < 0 ? 0 : (c >= box.cells[k] ? box.cells[k] - 1 : c);
    cell3[k] = c;
    flat = flat * box.cells[k] + c;
  }
  return flat;
}

/// Thread i: bins atom i (cells.count cleared before); cellOverflow = Edges::overflow + 1.
template <typename Real>
GAQMD_HD inline void binAtom(int i, const Box& box, const Real* pos, Cells cells, int* cellOverflow) {
  int cell3[3];
  const int c = cellOf(box, pos + 3 * i, cell3);
  const int slot = GAQ_ATOMIC_INC(&cells.count[c]);
  if (slot < cells.capacity) cells.atoms[c * cells.capacity + slot] = i;
  else GAQ_ATOMIC_MAX(cellOverflow, slot + 1);
}

/// Appends j to i's row if |r_ij| < r_c; *k counts the candidates found.
template <typename Real>
GAQMD_HD inline void considerPair(int i, int j, const Box& box, const Real* pos, double cutoff, Edges<Real> edges,
                                  int* k) {
  Real r[3];
  for (int a = 0; a < 3; ++a) r[a] = pos[3 * j + a] - pos[3 * i + a];
  if (box.periodic) minimumImage(box, r);
  const double d2 = (static_cast<double>(r[0]) * r[0] + static_cast<double>(r[1]) * r[1]) + static_cast<double>(r[2]) * r[2];
  if (!(d2 < cutoff * cutoff)) return;
  if (*k < edges.capacity) {
    const int e = i * edges.capacity + *k;
    edges.neighbour[e] = j;
    for (int a = 0; a < 3; ++a) edges.r[3 * e + a] = r[a];
  }
  ++*k;
}

/// Closes row i: count and, when the row was too short, the overflow flag (needed slots).
template <typename Real>
GAQMD_HD inline void finishRow(int i, int found, Edges<Real> edges) {
  edges.count[i] = found < edges.capacity ? found : edges.capacity;
  if (found > edges.capacity) GAQ_ATOMIC_MAX(edges.overflow, found);
}

/// Thread i, vacuum: row i from all other atoms.
template <typename Real>
GAQMD_HD inline void buildRowAllPairs(int i, const Box& box, const Real* pos, double cutoff, Edges<Real> edges) {
  int found = 0;
  for (int j = 0; j < edges.n; ++j)
    if (j != i) considerPair(i, j, box, pos, cutoff, edges, &found);
  finishRow(i, found, edges);
}

/// Cells scanned along axis k from cell c: c-1, c, c+1 (mod n) when n >= 3, else all n (distinct).
GAQMD_HD inline int cellSpan(int n) { return n >= 3 ? 3 : n; }
GAQMD_HD inline int cellAt(int c, int offset, int n) { return n >= 3 ? (c + offset - 1 + n) % n : offset; }

/// Thread i, periodic: row i from the atoms of its own and the neighbouring cells.
template <typename Real>
GAQMD_HD inline void buildRowCells(int i, const Box& box, const Real* pos, double cutoff, Cells cells,
                                   Edges<Real> edges) {
  int cell3[3], found = 0;
  cellOf(box, pos + 3 * i, cell3);
  for (int oa = 0; oa < cellSpan(box.cells[0]); ++oa)
    for (int ob = 0; ob < cellSpan(box.cells[1]); ++ob)
      for (int oc = 0; oc < cellSpan(box.cells[2]); ++oc) {
        const int ca = cellAt(cell3[0], oa, box.cells[0]), cb = cellAt(cell3[1], ob, box.cells[1]);
        const int cc = cellAt(cell3[2], oc, box.cells[2]);
        const int c = (ca * box.cells[1] + cb) * box.cells[2] + cc;
        const int count = cells.count[c] < cells.capacity ? cells.count[c] : cells.capacity;
        for (int s = 0; s < count; ++s) {
          const int j = cells.atoms[c * cells.capacity + s];
          if (j != i) considerPair(i, j, box, pos, cutoff, edges, &found);
        }
      }
  finishRow(i, found, edges);
}

/// Thread e (slot): reverse[e] = the slot of the same pair in the neighbour's row (-1 if absent,
/// which only an overflowing row can cause).
template <typename Real>
GAQMD_HD inline void findReverse(int e, Edges<Real> edges) {
  const int i = rowOf(e, edges.capacity);
  if (slotOf(e, edges.capacity) >= edges.count[i]) return;
  const int j = edges.neighbour[e];
  int found = -1;
  for (int k = 0; k < edges.count[j] && found < 0; ++k)
    if (edges.neighbour[j * edges.capacity + k] == i) found = j * edges.capacity + k;
  edges.reverse[e] = found;
}

}  // namespace gaqmd::cuda
