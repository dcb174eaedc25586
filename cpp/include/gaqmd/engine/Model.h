#pragma once
// Engine-internal: the validated, decoded model (docs/format.md). Matrices are dense float64 with
// the normalization alpha folded in; quantizer parameters are plain vectors.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gaqmd/engine/Codebook.h"
#include "gaqmd/engine/Kernels.h"
#include "gaqmd/engine/ModelData.h"

namespace gaqmd {

/// W4A8Naive: the per-component int8 baseline (quantizers as W4A8, read per block kind).
enum class Mode { Fp32, W4A32, W4A8, W4A8Naive };

/// Quantizer of one irreps block (docs/format.md, "Quantizers"): l = 0 blocks are Lsq; l >= 1
/// blocks name theirs in the attribute NAME.b{b}.kind.
enum class BlockKind { Lsq, Mddq, Int8, MddqFp16, Fp16 };

/// Irrep blocks (mul, l); offset[b] = start of block b in the flat feature vector.
struct Irreps {
  std::vector<int> mul, l, offset;
  int dim = 0;
  /// Transposed layout (engine-internal, Kernels.h): block b component-major with channels padded
  /// to Cp, element (u, m) at offsetT[b] + m Cp + u; dimT in all. Set by setTransposed.
  std::vector<int> offsetT;
  int dimT = 0;
  void setTransposed(int Cp);
  /// One atom's features: channel-major (D) <-> transposed (dimT, zero padding).
  void toTransposed(const double* x, double* xT, int Cp) const;
  void fromTransposed(const double* xT, double* x, int Cp, bool accumulate) const;
  int size() const { return static_cast<int>(mul.size()); }
  bool operator==(const Irreps& o) const { return mul == o.mul && l == o.l; }
};

/// y = A x, A = alpha · W (rows out, cols in), row-major.
struct Matrix {
  int rows = 0, cols = 0;
  std::vector<double> a;
  PackedMatrix packed, packedT;  // A and Aᵀ packed for gemm (set by pack())
  void pack();
  /// y (rows) = A x (cols); accumulate adds to y.
  void apply(const double* x, double* y, bool accumulate = false) const;
  /// gx (cols) += Aᵀ gy (rows).
  void applyTransposedAdd(const double* gy, double* gx) const;
};

/// LSQ activation quantizer: one scale per channel. clipped: the straight-through derivative is 0
/// beyond [qmin, qmax] (model attribute `int8_ste` clipped or absent), else 1 there.
struct Lsq {
  std::vector<double> scale;
  double qmin = 0, qmax = 0;
  bool clipped = true;
};

/// MDDQ of a C x 1o block.
struct Mddq {
  std::vector<double> scale, logMin;
  double qmax = 0;
  bool logDomain = false;
};

/// Quantizer of an irreps feature vector, one entry per block: kind[b] says which of lsq[b]
/// (Lsq: per channel; Int8: per component, channel u's scale at scale[u] for all its 2l+1
/// components, a (1,) scale repeated C times) or mddq[b] (Mddq, MddqFp16) applies; Fp16 has none.
struct IrrepsQuant {
  std::vector<BlockKind> kind;
  std::vector<Lsq> lsq;
  std::vector<Mddq> mddq;
  std::vector<char> local;  // per block: quantized in the atom's local frame (l = 2 only)
};

/// e3nn o3.Linear: out[bout][v, m] += Σ_u W_p[v, u] in[bin][u, m].
struct EquiLinear {
  Irreps in, out;
  std::vector<int> blockIn, blockOut;
  std::vector<Matrix> w;
};

/// Channel-wise tensor-product path: mid[bmid][u, k] = w[p C + u] Σ_ab cg[a, b, k] x[bin][u, a] Y_lsh[b].
struct TpPath {
  int blockIn = 0, lIn = 0, lSh = 0, blockMid = 0, lOut = 0;
  std::vector<double> cg;  // (2 lIn + 1, 2 lSh + 1, 2 lOut + 1)
};

struct Attention {
  Matrix query, key, keyRadial;  // (A, C), (A, C), (A, K)
  double temperature = 1.0;
  Lsq keyRadialIn;  // w4a8
};

struct Layer {
  Irreps in, out, mid, gate;
  EquiLinear up, down, self;
  Matrix radial[3];
  PackedMatrix radial2Padded;  // radial[2] with rows p C + u moved to p Cp + u (zero rows between)
  int Wp = 0;                  // P Cp: padded radial output width
  std::vector<TpPath> tp;
  std::vector<TpPlan> plans;   // tp for the transposed layouts
  /// Tabulated radial mode: per interval q (d in [(q+1) h, (q+2) h]) the Hermite coefficients
  /// [c0 | c1 | c2 | c3] (4 Wp) of w(d) (Radial.cpp); empty in the exact mode.
  std::vector<double> radialTable;
  bool residual = false;
  int numGates = 0;  // G
  double scalarActScale = 1.0, gateActScale = 1.0;
  std::unique_ptr<Attention> attention;
  // w4a8 quantizers
  IrrepsQuant inQ, upQ;
  Lsq radialIn[3], radialOut;
  Lsq radialOutPadded;  // radialOut on the padded layout (scale 1 on padding)
};

struct Readout {
  Matrix hidden, out;
  std::vector<double> hiddenBias, outBias, scale, shift;
  Lsq hiddenIn, outIn;  // w4a8
};

struct Model {
  Mode mode = Mode::Fp32;
  double cutoff = 0, cutoffP = 6, avgNumNeighbors = 1, zeroThreshold = 0;
  int numBasis = 0, channels = 0, lMax = 1, numLayers = 0;
  int Cp = 0;  // paddedChannels(channels)
  /// Tabulated radial mode (0: exact): knots d_k = k h, k = 1..tablePoints, h = cutoff / tablePoints.
  int tablePoints = 0;
  double tableStep = 0, tableInvStep = 0;
  bool attention = false, localFrames = false;
  std::vector<int> species;
  std::vector<double> frequencies;
  Matrix embedding;  // (C, S)
  std::vector<Layer> layers;
  Readout readout;
  std::shared_ptr<const Codebook> codebook;  // w4a8 with an mddq block

  bool quantizesActivations() const { return mode == Mode::W4A8 || mode == Mode::W4A8Naive; }
  /// Quantized modes: the Bessel basis entering the radial MLP and the attention key is int8
  /// (attribute `edge_basis` int8, the default) or float like the spherical harmonics.
  bool quantizesEdgeBasis = false;
  /// Whether any quantizer needs the per-atom local frames (mddq directions or a local block).
  bool usesFrames() const {
    if (!quantizesActivations()) return false;
    if (localFrames) return true;
    for (const Layer& L : layers)
      for (const IrrepsQuant* q : {&L.inQ, &L.upQ})
        for (char local : q->local)
          if (local) return true;
    return false;
  }
};

/// Validates `data` against docs/format.md and decodes it; throws ModelError naming the problem.
std::unique_ptr<Model> decodeModel(const ModelData& data);

/// Switches m to the tabulated radial mode with `points` knots (Radial.cpp); ModelError for w4a8.
void tabulateRadial(Model& m, int points);

}  // namespace gaqmd
