#pragma once
// Engine-internal: what the forward pass keeps for the backward pass, and the per-node and
// per-edge building blocks both passes use. Shapes: n atoms, P pairs, E = 2P directed edges,
// D_in / D_mid / D_gate / D_out the irreps dimensions of a layer, K basis size, C channels.

#include <cstdint>
#include <vector>

#include "gaqmd/engine/Model.h"
#include "gaqmd/engine/Neighbors.h"

namespace gaqmd {

/// MDDQ decisions of one mddq (l = 1) or mddq-fp16 block, per (atom, channel): codeword c (2l + 1;
/// mddq-fp16: half(u)), m, m̂, in-range, zero.
struct MddqState {
  std::vector<double> c, m, mHat, inRange;
  std::vector<char> zero;
};

struct LayerState {
  std::vector<double> x, xq, xuPre, xu;  // (n, D_in): input, after in_q, linear_up, after up_q
  std::vector<double> xuT;               // (n, D_inT) xu in the transposed layout (Kernels.h)
  std::vector<double> M, g, out;         // (n, D_mid), (n, D_gate), (n, D_out)
  // per pair, padded layout (path p, channel u at p Cp + u): radial weights w (P, Wp) and their
  // derivative in the pair distance dw = dw/dd (forward mode through the MLP and its quantizers)
  std::vector<double> w, dw;
  std::vector<MddqState> inQ, upQ;       // per block (empty unless mddq / mddq-fp16)
  // attention: Q (n, A) raw query, Ks (n, A) = W_k s, kr (P, A) = W_r ê, Kraw (E, A),
  // expA (E,) = exp(a_e), alpha (E,), Z (n,)
  std::vector<double> Q, Ks, kr, Kraw, expA, alpha, Z;
};

/// Scratch of one layer's backward: GM (n, D_mid) = dE/dM and GMT (n, D_midT) transposed,
/// Gxq / Gxu (n, D_in) = dE/dxq, dE/dxu; per edge gY (E, (l+1)²), gRadial (E,) = dE/dd through the
/// edge's radial weights, gKraw (E, A), gEnv (E,) (attention's envelope gradient).
struct LayerGrad {
  std::vector<double> GM, GMT, Gxq, Gxu, gY, gRadial, gKraw, gEnv;
};

/// w4a8: the radial MLP of one layer per input code vector met so far (Radial.cpp). Its inputs
/// are int8 codes, so its output w (Wp) is a function of the codes, and so is its straight-through
/// Jacobian J (K, Wp) = dw/d(input) (the hidden quantizers' masks and SiLU' are functions of the
/// hidden values); per pair then w = entry w and dw = J · (masked input tangents).
struct RadialCache {
  std::vector<uint64_t> slotKey;  // open addressing, power-of-two size
  std::vector<int> slotEntry;     // entry of the slot, -1: empty
  std::vector<uint64_t> entryKey;
  std::vector<double> entries;  // per entry (K + 1) Wp: w, then J row by row
  bool disabled = false;        // the layer has too many code vectors: the per-pair MLP instead
  int count() const { return static_cast<int>(entryKey.size()); }
  void clear();
  int find(uint64_t key) const;  // -1: absent
  int insert(uint64_t key);      // appends an entry (absent key), returns its index
  void place(uint64_t key, int entry);  // into a free slot (the table has one)
};

/// Everything one evaluation computes; Engine keeps States between calls (their vectors keep
/// their capacity), so an evaluation allocates nothing once sizes have been seen.
struct State {
  int n = 0;
  const NeighborList* list = nullptr;
  const int* species = nullptr;
  std::vector<double> u, basis, dbasis, env, denv, Y;  // per pair: (P,3), (P,K), (P,K), (P), (P), (P, (l+1)²)
  std::vector<double> frames;                           // (n, 9) local frames (w4a8 local)
  std::vector<RadialCache> radialCache;                 // w4a8: per layer, kept between evaluations
  std::vector<uint64_t> pairKey;                        // per pair: radial input codes (w4a8)
  std::vector<int> pairEntry;                           // per pair: its RadialCache entry
  std::vector<double> pairTangent;                      // (P, K) masked radial input tangents
  std::vector<LayerState> layers;
  std::vector<double> readoutH, readoutH2, atomEnergy;  // (n, R) pre-SiLU, (n, R) post, (n,)
  // backward
  std::vector<std::vector<double>> gradIn, gradOut;  // per layer: dE/dx (n, D_in), dE/dout (n, D_out)
  std::vector<double> gradR;                         // (P, 3) dE/dr_pair, Å⁻¹ eV
  LayerGrad grad;                                    // the current layer's backward scratch
};

// --- building blocks (Features.cpp) ---

/// Attention's normalization: 1 / sqrt(|v|² + 1e-12) of v (n).
double inverseNorm(const double* v, int n);

/// Rows of n atoms: out (n, ld ldOut) = L in (n, ld ldIn); accumulate adds. GEMMs over batches of
/// atoms; each atom's result is independent of the batch.
void linearBatch(const EquiLinear& L, const double* in, int ldIn, int n, double* out, int ldOut, bool accumulate);
/// gin (n, ldIn) += Lᵀ gout (n, ldOut).
void linearTransposedAddBatch(const EquiLinear& L, const double* gout, int ldOut, int n, double* gin, int ldIn);

/// Fake-quantizes one atom's features x (D) into xq, recording MDDQ decisions of atom `atom`;
/// frame: the atom's local frame (3x3), nullptr when the model uses none (Model::usesFrames):
/// mddq directions snap in it when Model::localFrames, local blocks (IrrepsQuant::local) are
/// quantized in it.
void quantizeIrreps(const Model& m, const IrrepsQuant& q, const Irreps& irreps, const double* x, double* xq,
                    std::vector<MddqState>& st, int atom, const double* frame);
/// Straight-through backward of quantizeIrreps: g (dE/dxq) -> gx (dE/dx), overwritten.
void quantizeIrrepsBackward(const IrrepsQuant& q, const Irreps& irreps, const double* x, const double* g,
                            const std::vector<MddqState>& st, int atom, const double* frame, double* gx);
/// Per-channel LSQ of a vector x (n) -> xq; mask (n) optional.
void lsqVector(const Lsq& q, const double* x, int n, double* xq);
/// g (n) *= LSQ mask of x.
void lsqMaskGrad(const Lsq& q, const double* x, int n, double* g);

/// Gate (format.md step 7): g (D_gate) -> y (D_out).
void gateForward(const Layer& L, const double* g, double* y);
/// gy (D_out) -> gg (D_gate), overwritten.
void gateBackward(const Layer& L, const double* g, const double* gy, double* gg);

/// Spherical harmonics of edge e: Y of its pair times (-1)^l for a reversed edge.
void edgeSh(const State& s, int lMax, int e, double* Y);
// --- radial MLP (Radial.cpp), batched over pairs ---

/// Pairs per radial batch: the GEMM columns are their values then their tangents (d/dd).
constexpr int kPairBatch = 8;
/// Pairs [begin, end): w, dw of ls (radial MLP of e·f, forward mode for d/dd).
void radialForward(const Model& m, const Layer& L, LayerState& ls, const State& s, int begin, int end);
/// Whether radialCached applies: w4a8 with K <= kPairBatch and the input codes in one byte each.
bool radialCacheable(const Model& m, const Layer& L);
/// All pairs' w, dw of layer `layer` through s.radialCache (equal to radialForward's w; dw the
/// same derivative, rounded differently).
void radialCached(const Model& m, int layer, LayerState& ls, State& s, int threads);

// --- passes (Forward.cpp, Backward.cpp) ---

/// Forward pass: fills s (geometry, per-layer state, atomEnergy) and returns E (eV).
double forward(const Model& m, State& s, int threads);
/// Per pair: radial MLP, envelope, basis, spherical-harmonic and attention-key gradients of one
/// layer -> s.gradR (accumulated) (BackwardPairs.cpp).
void pairBackward(const Model& m, const Layer& L, const LayerState& ls, const LayerGrad& lg, State& s, int threads);
/// forces (n, 3) = -dE/dx from s.gradR.
void pairForces(const State& s, double* forces, int threads);
/// Backward pass after forward: fills s.gradIn/gradOut/gradR and writes forces (n, 3) eV/Å.
void backward(const Model& m, State& s, double* forces, int threads);

}  // namespace gaqmd
