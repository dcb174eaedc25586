// Flattening of a decoded model into the CUDA layout. The engine's decoder validates the
// description; this file only re-reads what it keeps packed (int4 codes) and lays arrays out.

#include "HostModel.h"

#include <algorithm>
#include <cmath>

#include "CodebookCells.h"
#include "gaqmd/engine/Model.h"
#include "gaqmd/engine/Reader.h"

namespace gaqmd::cuda {
namespace {

class Flattener {
 public:
  Flattener(const ModelData& data, const Model& model, HostModel& out) : data_(data), reader_(data), model_(model), out_(out) {}

  /// Appends values; returns their offset.
  int append(const std::vector<double>& v) {
    const int offset = static_cast<int>(out_.values.size());
    out_.values.insert(out_.values.end(), v.begin(), v.end());
    return offset;
  }

  /// fp32: the decoded dense matrix (alpha folded in, as the engine has it); int4: codes and
  /// scales as stored, alpha applied per element (Weights.h) in the engine's order (code·scale)·alpha.
  MatrixRef matrix(const std::string& name, const Matrix& decoded) {
    MatrixRef ref;
    ref.rows = decoded.rows, ref.cols = decoded.cols;
    if (model_.mode == Mode::Fp32) {
      ref.dense = append(decoded.a);
      return ref;
    }
    ref.group = static_cast<int>(reader_.integer(name + ".group", 1, 1L << 30));  // may exceed cols: one group
    ref.groups = (ref.cols + ref.group - 1) / ref.group;
    ref.alpha = reader_.scalar(name + ".alpha");
    const std::vector<double> scales = reader_.doubles(name + ".scales", {ref.rows, ref.groups});
    ref.scale = static_cast<int>(out_.scales.size());
    out_.scales.insert(out_.scales.end(), scales.begin(), scales.end());
    // Each matrix starts on a byte boundary: its code k is nibble k of its own bytes.
    const std::vector<uint8_t>& bytes = data_.array(name + ".codes").bytes;
    ref.code = static_cast<int>(out_.codes.size());
    out_.codes.insert(out_.codes.end(), bytes.begin(), bytes.end());
    return ref;
  }

  LinearRef linear(const std::string& name, const EquiLinear& L) {
    if (L.w.size() > GAQ_MAX_LINEAR_PATHS)
      throw ModelError(name + " has " + std::to_string(L.w.size()) + " paths; the CUDA kernels take at most " +
                       std::to_string(GAQ_MAX_LINEAR_PATHS));
    LinearRef ref;
    ref.count = static_cast<int>(L.w.size());
    for (int p = 0; p < ref.count; ++p) {
      ref.blockIn[p] = L.blockIn[p], ref.blockOut[p] = L.blockOut[p];
      ref.w[p] = matrix(name + ".p" + std::to_string(p), L.w[p]);
    }
    return ref;
  }

 private:
  const ModelData& data_;
  Reader reader_;
  const Model& model_;
  HostModel& out_;
};

Blocks blocks(const std::string& name, const Irreps& irreps) {
  if (irreps.size() > GAQ_MAX_BLOCKS)
    throw ModelError(name + " has " + std::to_string(irreps.size()) + " irreps blocks; the CUDA kernels take at most " +
                     std::to_string(GAQ_MAX_BLOCKS));
  Blocks b;
  b.count = irreps.size(), b.dim = irreps.dim;
  for (int k = 0; k < b.count; ++k) b.mul[k] = irreps.mul[k], b.l[k] = irreps.l[k], b.offset[k] = irreps.offset[k];
  return b;
}

void checkSupported(const Model& m) {
  if (m.numBasis > GAQ_MAX_BASIS) throw ModelError("num_basis exceeds the CUDA kernels' GAQ_MAX_BASIS");
  if (m.channels > GAQ_MAX_CHANNELS) throw ModelError("channels exceeds the CUDA kernels' GAQ_MAX_CHANNELS");
}

LsqRef lsq(Flattener& flat, const Lsq& q) {
  LsqRef ref;
  if (q.scale.empty()) return ref;
  ref.scale = flat.append(q.scale), ref.qmin = q.qmin, ref.qmax = q.qmax, ref.clipped = q.clipped;
  return ref;
}

/// Per-block quantizers of a w4a8 layer (empty IrrepsQuant: none).
void blockQuants(Flattener& flat, const IrrepsQuant& q, BlockQuant* out) {
  for (size_t b = 0; b < q.kind.size(); ++b) {
    BlockQuant& ref = out[b];
    ref.local = q.local[b];
    switch (q.kind[b]) {
      case BlockKind::Lsq:
      case BlockKind::Int8:
        ref.kind = q.kind[b] == BlockKind::Lsq ? kQuantLsq : kQuantInt8;
        ref.scale = flat.append(q.lsq[b].scale), ref.qmin = q.lsq[b].qmin, ref.qmax = q.lsq[b].qmax;
        ref.clipped = q.lsq[b].clipped;
        break;
      case BlockKind::Mddq:
      case BlockKind::MddqFp16: {
        const Mddq& mq = q.mddq[b];
        ref.kind = q.kind[b] == BlockKind::Mddq ? kQuantMddq : kQuantMddqFp16;
        ref.scale = flat.append(mq.scale), ref.qmax = mq.qmax, ref.logDomain = mq.logDomain ? 1 : 0;
        if (mq.logDomain) ref.logMin = flat.append(mq.logMin);
        break;
      }
      case BlockKind::Fp16:
        ref.kind = kQuantFp16;
        break;
    }
  }
}

}  // namespace

HostModel buildHostModel(const ModelData& data) {
  const std::unique_ptr<Model> decoded = decodeModel(data);
  const Model& m = *decoded;
  checkSupported(m);
  HostModel out;
  out.mode = data.attribute("mode");
  out.species = m.species;
  Flattener flat(data, m, out);
  Params<double>& h = out.header;
  h.numLayers = m.numLayers, h.numSpecies = static_cast<int>(m.species.size()), h.channels = m.channels;
  h.numBasis = m.numBasis, h.lMax = m.lMax, h.shDim = (m.lMax + 1) * (m.lMax + 1);
  h.cutoff = m.cutoff, h.cutoffP = m.cutoffP, h.messageScale = 1.0 / std::sqrt(m.avgNumNeighbors);
  h.frequencies = flat.append(m.frequencies);
  h.embedding = flat.matrix("embedding", m.embedding);
  for (int t = 0; t < m.numLayers; ++t) {
    const Layer& L = m.layers[t];
    const std::string name = "layer" + std::to_string(t);
    LayerRef ref;
    ref.in = blocks(name + ".irreps_in", L.in), ref.mid = blocks(name + ".irreps_mid", L.mid);
    ref.gate = blocks(name + ".irreps_gate", L.gate), ref.out = blocks(name + ".irreps_out", L.out);
    ref.up = flat.linear(name + ".linear_up", L.up);
    ref.down = flat.linear(name + ".linear_down", L.down);
    ref.self = flat.linear(name + ".self_connection", L.self);
    for (int k = 0; k < 3; ++k) ref.radial[k] = flat.matrix(name + ".radial" + std::to_string(k), L.radial[k]);
    ref.numPaths = static_cast<int>(L.tp.size());
    for (int p = 0; p < ref.numPaths; ++p) {
      const TpPath& tp = L.tp[p];
      if (tp.blockMid != p) throw ModelError(name + ".tp.paths: path " + std::to_string(p) + " must write mid block " + std::to_string(p));
      ref.tp[p] = TpPathRef{tp.blockIn, tp.lIn, tp.lSh, tp.lOut, flat.append(tp.cg)};
    }
    ref.residual = L.residual ? 1 : 0;
    ref.scalarActScale = L.scalarActScale, ref.gateActScale = L.gateActScale;
    if (L.attention) {
      const Attention& att = *L.attention;
      if (att.query.rows > GAQ_MAX_ATTENTION)
        throw ModelError(name + ".attention has width " + std::to_string(att.query.rows) +
                         "; the CUDA kernels take at most GAQ_MAX_ATTENTION = " + std::to_string(GAQ_MAX_ATTENTION));
      ref.attention = 1, ref.temperature = att.temperature;
      ref.query = flat.matrix(name + ".attention.query", att.query);
      ref.key = flat.matrix(name + ".attention.key", att.key);
      ref.keyRadial = flat.matrix(name + ".attention.key_radial", att.keyRadial);
      if (m.quantizesActivations()) ref.keyRadialIn = lsq(flat, att.keyRadialIn);
      out.maxAttention = std::max(out.maxAttention, att.query.rows);
    }
    if (m.quantizesActivations()) {
      blockQuants(flat, L.inQ, ref.inQ);
      blockQuants(flat, L.upQ, ref.upQ);
      for (int k = 0; k < 3; ++k) ref.radialIn[k] = lsq(flat, L.radialIn[k]);
      ref.radialOut = lsq(flat, L.radialOut);
    }
    h.hidden = std::max(h.hidden, L.radial[0].rows);
    out.maxRadialWidth = std::max(out.maxRadialWidth, L.radial[2].rows);
    out.maxFeatureDim = std::max({out.maxFeatureDim, L.in.dim, L.mid.dim, L.gate.dim, L.out.dim});
    out.layers.push_back(ref);
  }
  const Readout& ro = m.readout;
  h.readout.hidden = flat.matrix("readout.hidden", ro.hidden);
  h.readout.out = flat.matrix("readout.out", ro.out);
  h.readout.hiddenBias = flat.append(ro.hiddenBias), h.readout.outBias = flat.append(ro.outBias);
  h.readout.scale = flat.append(ro.scale), h.readout.shift = flat.append(ro.shift);
  h.readoutWidth = ro.hidden.rows;
  if (m.quantizesActivations()) {
    h.readout.hiddenIn = lsq(flat, ro.hiddenIn), h.readout.outIn = lsq(flat, ro.outIn);
    h.quantized = 1, h.localFrames = m.usesFrames() ? 1 : 0, h.zeroThreshold = m.zeroThreshold;
    h.directionFrames = m.localFrames ? 1 : 0;
    if (m.codebook) {
      std::vector<double> points(m.codebook->point(0), m.codebook->point(0) + 3 * m.codebook->size());
      h.codebook = flat.append(points), h.codebookSize = m.codebook->size();
      const CodebookCells cells = buildCodebookCells(*m.codebook);
      h.codebookNZ = cells.nZ, h.codebookNPhi = cells.nPhi;
      h.codebookOffsets = static_cast<int>(out.ints.size());
      out.ints.insert(out.ints.end(), cells.offsets.begin(), cells.offsets.end());
      h.codebookIndices = static_cast<int>(out.ints.size());
      out.ints.insert(out.ints.end(), cells.indices.begin(), cells.indices.end());
    }
  }
  if (std::max(h.hidden, h.readoutWidth) > GAQ_MAX_HIDDEN)
    throw ModelError("radial MLP or readout width " + std::to_string(std::max(h.hidden, h.readoutWidth)) +
                     " exceeds the CUDA kernels' GAQ_MAX_HIDDEN = " + std::to_string(GAQ_MAX_HIDDEN));
  return out;
}

std::vector<std::pair<std::string, std::string>> kernelDefines(const HostModel& model) {
  auto text = [](int v) { return std::to_string(v); };
  // GAQ_MAX_BLOCKS and GAQ_MAX_LINEAR_PATHS stay the defaults: they fix the layout of LayerRef,
  // which the host uploads as bytes.
  return {{"GAQ_MAX_HIDDEN", text(std::max(model.header.hidden, model.header.readoutWidth))},
          {"GAQ_MAX_BASIS", text(model.header.numBasis)},
          {"GAQ_MAX_CHANNELS", text(model.header.channels)},
          {"GAQ_MAX_ATTENTION", text(std::max(1, model.maxAttention))}};
}

}  // namespace gaqmd::cuda
