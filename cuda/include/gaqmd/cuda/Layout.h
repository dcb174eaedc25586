#pragma once
// The CUDA platform's data layout (docs/cuda.md): flat parameter arrays and the plain structs of
// pointers and sizes every per-thread function takes. The same structs point at device memory in
// the GPU build and at host vectors in the emulation (cuda/src/Emulator.cpp).
//
// Built by nvcc (the compile check), by NVRTC through CudaContext::createModule (the kernels,
// after cuda/embed.cmake strips the #include lines) and by the host compiler (the emulation).

#ifndef __CUDACC_RTC__
#include <cstdint>
#endif

#include "gaqmd/math/common.h"

// Compile-time capacities; the GPU build defines them to the model's sizes (CudaGaqKernels.cpp),
// the host checks every model against them (HostModel.cpp).
#ifndef GAQ_MAX_HIDDEN
#define GAQ_MAX_HIDDEN 128  // radial MLP width H and readout width R
#endif
#ifndef GAQ_MAX_CHANNELS
#define GAQ_MAX_CHANNELS 256  // C
#endif
#ifndef GAQ_MAX_BASIS
#define GAQ_MAX_BASIS 32  // K
#endif
#ifndef GAQ_MAX_ATTENTION
#define GAQ_MAX_ATTENTION 64  // attention width A
#endif
#ifndef GAQ_MAX_BLOCKS
#define GAQ_MAX_BLOCKS 32  // irreps blocks of a feature vector (and tensor-product paths)
#endif
#ifndef GAQ_MAX_LINEAR_PATHS
#define GAQ_MAX_LINEAR_PATHS 32  // paths of one equivariant linear map
#endif

// Scatter-free design: every output element belongs to one thread, except the energy slots
// (one per thread, OpenMM's convention) and the cell counters of the neighbour search.
#ifdef __CUDA_ARCH__
#define GAQ_ATOMIC_INC(counter) atomicAdd((counter), 1)
#else
#define GAQ_ATOMIC_INC(counter) ((*(counter))++)
#endif

namespace gaqmd::cuda {

constexpr int kMaxSh = 9;  // (l_max + 1)² for l_max <= 2

/// A weight matrix A = alpha · W (rows out, cols in). fp32: W row-major at values[dense];
/// int4 (w4a32, w4a8): W[r, c] = code(r·cols + c) · scales[scale + r·groups + c / group], codes
/// packed two per byte (low nibble first) from byte codes[code] (format.md, "Matrices").
struct MatrixRef {
  int rows = 0, cols = 0;
  int dense = -1;  // offset into Params::values, or -1 for int4
  int code = 0, scale = 0, group = 1, groups = 1;
  double alpha = 1.0;
};

/// Irrep blocks (mul, l) of a feature vector, block b at offset[b], channel-major: (u, m) at
/// offset[b] + u (2l + 1) + m; dim in all.
struct Blocks {
  int count = 0, dim = 0;
  int mul[GAQ_MAX_BLOCKS] = {}, l[GAQ_MAX_BLOCKS] = {}, offset[GAQ_MAX_BLOCKS] = {};
};

/// e3nn o3.Linear: out[blockOut][v, m] += Σ_u A_p[v, u] in[blockIn][u, m].
struct LinearRef {
  int count = 0;
  int blockIn[GAQ_MAX_LINEAR_PATHS] = {}, blockOut[GAQ_MAX_LINEAR_PATHS] = {};
  MatrixRef w[GAQ_MAX_LINEAR_PATHS];
};

/// Tensor-product path p writes mid block p: mid[p][u, k] = w[p C + u] Σ_ab cg[a, b, k] x[blockIn][u, a] Y_lSh[b];
/// cg (2 lIn + 1, 2 lSh + 1, 2 lOut + 1) at values[cg].
struct TpPathRef {
  int blockIn = 0, lIn = 0, lSh = 0, lOut = 0, cg = 0;
};

/// LSQ of a vector (format.md, "Quantizers"): x̂_k = clamp(rne(x_k / s_k), qmin, qmax) s_k, with
/// s at values[scale]; scale < 0: no quantizer (identity). clipped: the straight-through derivative
/// is 0 beyond [qmin, qmax], else 1 (attribute `int8_ste`).
struct LsqRef {
  int scale = -1, clipped = 1;
  double qmin = 0, qmax = 0;
};

/// Quantizer kinds of an irreps block (w4a8; format.md): none (fp32, w4a32), LSQ per channel (l = 0),
/// MDDQ (l = 1: magnitude + codebook direction), int8 per component, MDDQ-fp16, fp16.
enum QuantKind { kQuantNone = 0, kQuantLsq = 1, kQuantMddq = 2, kQuantInt8 = 3, kQuantMddqFp16 = 4, kQuantFp16 = 5 };

/// One block's quantizer: per-channel scales at values[scale] (LSQ, int8: the component scale;
/// MDDQ kinds: the magnitude scale, log-domain minimum at values[logMin]).
struct BlockQuant {
  int kind = kQuantNone, scale = -1, logMin = -1, logDomain = 0;
  int local = 0;    // l = 2 block quantized in the atom's local frame
  int clipped = 1;  // LSQ and int8 kinds: as LsqRef::clipped
  double qmin = 0, qmax = 0;
};

struct LayerRef {
  Blocks in, mid, gate, out;
  LinearRef up, down, self;
  MatrixRef radial[3];  // K -> H -> H -> P C
  TpPathRef tp[GAQ_MAX_BLOCKS];
  int numPaths = 0;  // P = mid.count
  int residual = 0;
  double scalarActScale = 1.0, gateActScale = 1.0;
  // w4a8: in_q on x, up_q on x_up (per block), LSQ of each radial matrix's input and of its output
  BlockQuant inQ[GAQ_MAX_BLOCKS], upQ[GAQ_MAX_BLOCKS];
  LsqRef radialIn[3], radialOut;
  // attention (format.md, "Attention"): A = query.rows; query, key (A, C) on the first C scalars of
  // x_up, keyRadial (A, K) on the Bessel basis (LSQ keyRadialIn in w4a8), temperature τ
  int attention = 0;
  MatrixRef query, key, keyRadial;
  LsqRef keyRadialIn;
  double temperature = 1.0;
};

struct ReadoutRef {
  MatrixRef hidden, out;           // (R, C), (1, R)
  int hiddenBias = 0, outBias = 0;  // offsets into values: (R,), (1,)
  int scale = 0, shift = 0;         // (S,) per species
  LsqRef hiddenIn, outIn;           // w4a8: LSQ of s (C,) and of SiLU(h) (R,)
};

/// The whole model as the kernels see it. Real: the floating type of values (float or double).
template <typename Real>
struct Params {
  const Real* values = nullptr;    // dense weights, biases, cg, frequencies
  const int* ints = nullptr;       // integer tables (the codebook cells)
  const uint8_t* codes = nullptr;  // packed int4 codes
  const Real* scales = nullptr;    // int4 scales
  const LayerRef* layers = nullptr;
  ReadoutRef readout;
  MatrixRef embedding;  // (C, S)
  int frequencies = 0;  // (K,) Bessel ω_n, Å⁻¹
  int numLayers = 0, numSpecies = 0, channels = 0, numBasis = 0, lMax = 1, shDim = 4;
  int hidden = 0, readoutWidth = 0;  // H, R
  double cutoff = 0, cutoffP = 6, messageScale = 1;  // r_c (Å), p, 1 / sqrt(avg_num_neighbors)
  // w4a8: activations quantized; localFrames: per-atom frames computed (used by MDDQ directions
  // when directionFrames, and by local blocks); codebook (K, 3) at values[codebook]
  int quantized = 0, localFrames = 0, directionFrames = 0, codebook = -1, codebookSize = 0;
  // codebook cell table (CodebookCells.h): nZ x nPhi cells, offsets (cells + 1) and point indices in ints
  int codebookNZ = 0, codebookNPhi = 0, codebookOffsets = 0, codebookIndices = 0;
  double zeroThreshold = 0;
};

/// Per-layer activations of all atoms, each (n, dim) row-major in the Blocks layouts above.
template <typename Real>
struct LayerBuffers {
  Real* x = nullptr;    // (n, D_in) layer input (the previous layer's out)
  Real* xq = nullptr;   // (n, D_in) in_q(x) (w4a8; else the same buffer as x)
  Real* xuPre = nullptr;  // (n, D_in) linear_up(xq) (w4a8; else the same buffer as xu)
  Real* xu = nullptr;   // (n, D_in) up_q(linear_up(xq))
  Real* w = nullptr;    // (E, P C) radial weights, in the slots of radialSlot() only
  Real* dw = nullptr;   // (E, P C) their derivative in the edge length, Å⁻¹
  Real* M = nullptr;    // (n, D_mid) aggregated messages
  Real* g = nullptr;    // (n, D_gate) gate input
  Real* out = nullptr;  // (n, D_out)
  // attention: per atom Q = W_q s, Ks = W_k s (n, A), Z (n,) the softmax denominator; per edge slot
  // Kraw = Ks_j + W_r ê (E, A), expA = exp(a_e) (E,), alpha (E,) the normalized weight
  Real *Q = nullptr, *Ks = nullptr, *Z = nullptr, *Kraw = nullptr, *expA = nullptr, *alpha = nullptr;
};

/// Directed edges in rows of `capacity` slots per center atom i: slot e = i capacity + k,
/// k < count[i], neighbour[e] = j, r_e = x_j - x_i (minimum image), reverse[e] = the slot of (j, i).
template <typename Real>
struct Edges {
  int n = 0, capacity = 0;
  int* count = nullptr;      // (n,)
  int* neighbour = nullptr;  // (n capacity)
  int* reverse = nullptr;    // (n capacity)
  Real* r = nullptr;         // (n capacity, 3) Å
  int* overflow = nullptr;   // (2,) [0] > 0: a row needed that many slots; [1] > 0: a cell needed that many
};

/// Per-edge geometry and its gradient, slots as in Edges.
template <typename Real>
struct EdgeGeometry {
  Real* d = nullptr;      // (E,) |r|, Å
  Real* Y = nullptr;      // (E, shDim) spherical harmonics of r / d
  Real* basis = nullptr;  // (E, K) Bessel basis times envelope: the radial MLP's input
  Real* dbasis = nullptr; // (E, K) its derivative in d
  Real* gd = nullptr;     // (E,) dE/dd through the radial weights, summed over layers
  Real* gY = nullptr;     // (E, shDim) dE/dY summed over layers
  Real* frames = nullptr; // (n, 9) local frames, rows e1 e2 e3 (w4a8 with local frames)
  // attention: the Bessel basis alone (E, K) and its d-derivative, the envelope (E,) and its derivative
  Real *bessel = nullptr, *dbessel = nullptr, *env = nullptr, *denv = nullptr;
};

/// Whether the neighbour search of this step ran out of row or cell slots (Edges::overflow).
GAQMD_HD inline bool searchOverflowed(const int* overflow) { return overflow[0] > 0 || overflow[1] > 0; }

/// GAQMD_HD helpers: slot arithmetic.
GAQMD_HD inline int rowOf(int e, int capacity) { return e / capacity; }
GAQMD_HD inline int slotOf(int e, int capacity) { return e % capacity; }
GAQMD_HD inline int degreeOfSh(int k) { return k == 0 ? 0 : (k < 4 ? 1 : 2); }

/// The slot that holds the radial weights of edge e: they depend on |r| only, so each pair's MLP runs
/// once, in the slot of the row of its lower-numbered atom (the reverse slot for e = (i, j), j < i).
/// A pair whose reverse slot is missing (an overflowing row, in a step that is rerun) keeps its own,
/// so that no thread reads outside the buffers.
template <typename Real>
GAQMD_HD inline int radialSlot(int e, const Edges<Real>& edges) {
  const int back = edges.reverse[e];
  return (edges.neighbour[e] > rowOf(e, edges.capacity) || back < 0) ? e : back;
}

}  // namespace gaqmd::cuda
