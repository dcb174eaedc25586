// decodeModel: validate a model description against docs/format.md and decode it.

#include <string>

#include "gaqmd/engine/Reader.h"
#include "gaqmd/engine/Kernels.h"

namespace gaqmd {
namespace {

Mode readMode(const Reader& r) {
  const std::string version = r.text("format_version");
  if (version != "1")
    throw ModelError("unsupported model format_version '" + version + "' (this engine reads version 1)");
  const std::string mode = r.text("mode");
  if (mode == "fp32") return Mode::Fp32;
  if (mode == "w4a32") return Mode::W4A32;
  if (mode == "w4a8") return Mode::W4A8;
  if (mode == "w4a8-naive") return Mode::W4A8Naive;
  throw ModelError("unsupported model mode '" + mode + "' (the engine runs fp32, w4a32, w4a8 and w4a8-naive)");
}

void readTensorProduct(const Reader& r, const std::string& name, Layer& layer, int channels) {
  const std::vector<int> rows = r.ints(name + ".tp.paths", {static_cast<int64_t>(layer.mid.size()), 3});
  for (int p = 0; p < layer.mid.size(); ++p) {
    TpPath path;
    path.blockIn = rows[3 * p];
    path.lSh = rows[3 * p + 1];
    path.blockMid = rows[3 * p + 2];
    const std::string row = name + ".tp.paths' row " + std::to_string(p);
    if (path.blockIn < 0 || path.blockIn >= layer.in.size() || path.blockMid < 0 ||
        path.blockMid >= layer.mid.size() || path.lSh < 0 || path.lSh > 2)
      throw ModelError("model array '" + row + " is out of range");
    path.lIn = layer.in.l[path.blockIn];
    path.lOut = layer.mid.l[path.blockMid];
    if (layer.in.mul[path.blockIn] != channels || layer.mid.mul[path.blockMid] != channels)
      throw ModelError("model array '" + row + " joins blocks whose multiplicity is not `channels`");
    const int64_t d1 = 2 * path.lIn + 1, d2 = 2 * path.lSh + 1, d3 = 2 * path.lOut + 1;
    path.cg = r.doubles(name + ".tp.cg" + std::to_string(p), {d1, d2, d3});
    layer.tp.push_back(std::move(path));
  }
}

/// The gate's irreps: [C + G scalars, gated blocks...] -> [C scalars, gated blocks...].
void checkGate(const std::string& name, Layer& layer, int channels) {
  const Irreps& g = layer.gate;
  const Irreps& o = layer.out;
  layer.numGates = 0;
  for (int b = 1; b < o.size(); ++b) layer.numGates += o.mul[b];
  bool ok = g.size() == o.size() && o.size() >= 1 && o.l[0] == 0 && o.mul[0] == channels && g.l[0] == 0 &&
            g.mul[0] == channels + layer.numGates;
  for (int b = 1; ok && b < o.size(); ++b) ok = g.mul[b] == o.mul[b] && g.l[b] == o.l[b] && o.l[b] > 0;
  if (!ok)
    throw ModelError("model arrays '" + name + ".irreps_gate' and '" + name +
                     ".irreps_out' are not [C+G scalars, gated...] -> [C scalars, gated...]");
}

void readIrreps(const Reader& r, const Model& m, const std::string& name, Layer& layer) {
  layer.in = r.irreps(name + ".irreps_in");
  layer.out = r.irreps(name + ".irreps_out");
  layer.mid = r.irreps(name + ".irreps_mid");
  layer.gate = r.irreps(name + ".irreps_gate");
  for (const Irreps* irreps : {&layer.in, &layer.out})
    for (int b = 0; b < irreps->size(); ++b)
      if (irreps->l[b] > m.lMax || irreps->mul[b] != m.channels)
        throw ModelError("model array '" + name + ".irreps_in/out' has a block that is not C x l with l <= l_max");
  if (layer.in.size() < 1 || layer.in.l[0] != 0)
    throw ModelError("model array '" + name + ".irreps_in' must start with the C scalars");
  checkGate(name, layer, m.channels);
  layer.residual = layer.in == layer.out;
}

void readAttention(const Reader& r, const Model& m, const std::string& name, Layer& layer) {
  auto att = std::make_unique<Attention>();
  const std::string base = name + ".attention";
  const int A = r.matrixRows(base + ".query", m.mode);
  att->query = r.matrix(base + ".query", A, m.channels, m.mode);
  att->key = r.matrix(base + ".key", A, m.channels, m.mode);
  att->keyRadial = r.matrix(base + ".key_radial", A, m.numBasis, m.mode);
  att->temperature = r.scalar(base + ".temperature");
  if (m.quantizesEdgeBasis) att->keyRadialIn = r.lsq(base + ".key_radial.in_q", m.numBasis);
  layer.attention = std::move(att);
}

void readLayer(const Reader& r, Model& m, int t) {
  const std::string name = "layer" + std::to_string(t);
  Layer layer;
  readIrreps(r, m, name, layer);
  layer.up = r.linear(name + ".linear_up", layer.in, layer.in, m.mode);
  layer.down = r.linear(name + ".linear_down", layer.mid, layer.gate, m.mode);
  layer.self = r.linear(name + ".self_connection", layer.in, layer.gate, m.mode);
  readTensorProduct(r, name, layer, m.channels);
  const int K = m.numBasis, P = layer.mid.size(), C = m.channels;
  const int H = r.matrixRows(name + ".radial0", m.mode);
  const int sizes[4] = {K, H, H, P * C};
  for (int k = 0; k < 3; ++k)
    layer.radial[k] = r.matrix(name + ".radial" + std::to_string(k), sizes[k + 1], sizes[k], m.mode);
  layer.scalarActScale = r.scalar(name + ".gate.scalar_act_scale");
  layer.gateActScale = r.scalar(name + ".gate.gate_act_scale");
  if (m.attention) readAttention(r, m, name, layer);
  if (m.quantizesActivations()) {
    layer.inQ = r.irrepsQuant(name + ".in_q", layer.in, m.mode);
    layer.upQ = r.irrepsQuant(name + ".up_q", layer.in, m.mode);
    for (int k = m.quantizesEdgeBasis ? 0 : 1; k < 3; ++k)
      layer.radialIn[k] = r.lsq(name + ".radial" + std::to_string(k) + ".in_q", sizes[k]);
    layer.radialOut = r.lsq(name + ".radial.out_q", P * C);
  }
  m.layers.push_back(std::move(layer));
}

void readReadout(const Reader& r, Model& m) {
  Readout& ro = m.readout;
  const int C = m.channels, S = static_cast<int>(m.species.size());
  const int R = r.matrixRows("readout.hidden", m.mode);
  ro.hidden = r.matrix("readout.hidden", R, C, m.mode);
  ro.hiddenBias = r.doubles("readout.hidden.bias", {R}, true);
  ro.out = r.matrix("readout.out", 1, R, m.mode);
  ro.outBias = r.doubles("readout.out.bias", {1}, true);
  ro.scale = r.doubles("readout.scale", {S});
  ro.shift = r.doubles("readout.shift", {S});
  if (m.quantizesActivations()) {
    ro.hiddenIn = r.lsq("readout.hidden.in_q", C);
    ro.outIn = r.lsq("readout.out.in_q", R);
  }
}

void readDirectionFrame(const Reader& r, Model& m) {
  const std::string frame = r.text("direction_frame");
  if (frame != "local" && frame != "global")
    throw ModelError("model attribute 'direction_frame' = '" + frame + "' (expected local or global)");
  m.localFrames = frame == "local";
}

/// What the irreps quantizers need beyond their own arrays: mddq blocks the codebook (and, outside
/// w4a8, where the header has them, the direction frame), magnitude blocks the zero threshold.
void readQuantizerShared(const Reader& r, const ModelData& data, Model& m) {
  bool codebook = false, magnitude = false;
  for (const Layer& L : m.layers)
    for (const IrrepsQuant* q : {&L.inQ, &L.upQ})
      for (BlockKind kind : q->kind) {
        codebook = codebook || kind == BlockKind::Mddq;
        magnitude = magnitude || kind == BlockKind::Mddq || kind == BlockKind::MddqFp16;
      }
  if (m.mode != Mode::W4A8) {
    if (codebook) readDirectionFrame(r, m);
    if (magnitude) m.zeroThreshold = r.number("zero_threshold");
  }
  if (!codebook) {
    m.localFrames = false;  // no codebook directions: nothing uses the frames
    return;
  }
  const Array& points = data.array("codebook.points");
  if (points.shape.size() != 2 || points.shape[1] != 3 || points.shape[0] < 1)
    throw ModelError("model array 'codebook.points' has shape " + shapeString(points.shape) + ", expected (K, 3)");
  m.codebook = Codebook::shared(r.doubles("codebook.points", points.shape));
}

void readEdgeBasis(const Reader& r, Model& m) {
  const std::string basis = r.hasAttribute("edge_basis") ? r.text("edge_basis") : "int8";
  if (basis != "int8" && basis != "float")
    throw ModelError("model attribute 'edge_basis' = '" + basis + "' (expected int8 or float)");
  m.quantizesEdgeBasis = basis == "int8";
}

void readHeader(const Reader& r, Model& m) {
  m.mode = readMode(r);
  m.cutoff = r.number("cutoff");
  if (!(m.cutoff > 0)) throw ModelError("model attribute 'cutoff' must be positive");
  m.cutoffP = static_cast<double>(r.integer("cutoff_p", 1, 64));
  m.numBasis = static_cast<int>(r.integer("num_basis", 1, 4096));
  m.channels = static_cast<int>(r.integer("channels", 1, 1 << 16));
  m.lMax = static_cast<int>(r.integer("l_max", 1, 2));
  m.numLayers = static_cast<int>(r.integer("num_layers", 1, 1024));
  m.attention = r.integer("attention", 0, 1) == 1;
  m.avgNumNeighbors = r.number("avg_num_neighbors");
  if (!(m.avgNumNeighbors > 0)) throw ModelError("model attribute 'avg_num_neighbors' must be positive");
  if (m.mode == Mode::W4A8) {
    readDirectionFrame(r, m);
    m.zeroThreshold = r.number("zero_threshold");
  }
  if (m.quantizesActivations()) readEdgeBasis(r, m);
  m.species = r.ints1d("species");
  if (m.species.empty()) throw ModelError("model array 'species' is empty");
  m.frequencies = r.doubles("basis.frequencies", {m.numBasis});
}

/// Transposed layouts, tensor-product plans and the padded radial output (Kernels.h).
void prepareKernels(Model& m) {
  const int C = m.channels, Cp = m.Cp = paddedChannels(m.channels);
  for (Layer& L : m.layers) {
    L.in.setTransposed(Cp);
    L.mid.setTransposed(Cp);
    L.plans.clear();
    for (const TpPath& t : L.tp)
      L.plans.push_back(makeTpPlan(t.cg, t.lIn, t.lSh, t.lOut, L.in.offsetT[t.blockIn], L.mid.offsetT[t.blockMid]));
    const int P = static_cast<int>(L.tp.size()), H = L.radial[2].cols;
    L.Wp = P * Cp;
    std::vector<double> padded(static_cast<size_t>(L.Wp) * H, 0.0);
    for (int p = 0; p < P; ++p)
      for (int u = 0; u < C; ++u)
        for (int h = 0; h < H; ++h)
          padded[static_cast<size_t>(p * Cp + u) * H + h] = L.radial[2].a[static_cast<size_t>(p * C + u) * H + h];
    packMatrix(padded.data(), L.Wp, H, L.radial2Padded);
    if (m.quantizesActivations()) {
      L.radialOutPadded = L.radialOut;
      L.radialOutPadded.scale.assign(L.Wp, 1.0);
      for (int p = 0; p < P; ++p)
        for (int u = 0; u < C; ++u) L.radialOutPadded.scale[p * Cp + u] = L.radialOut.scale[p * C + u];
    }
  }
}

}  // namespace

std::unique_ptr<Model> decodeModel(const ModelData& data) {
  const Reader r(data);
  auto m = std::make_unique<Model>();
  readHeader(r, *m);
  m->embedding = r.matrix("embedding", m->channels, static_cast<int>(m->species.size()), m->mode);
  for (int t = 0; t < m->numLayers; ++t) readLayer(r, *m, t);
  Irreps scalars;
  scalars.mul = {m->channels}, scalars.l = {0}, scalars.offset = {0}, scalars.dim = m->channels;
  for (int t = 0; t < m->numLayers; ++t) {
    const Irreps& expected = t == 0 ? scalars : m->layers[t - 1].out;
    if (!(m->layers[t].in == expected))
      throw ModelError("model array 'layer" + std::to_string(t) + ".irreps_in' does not match the previous layer's output");
  }
  readReadout(r, *m);
  prepareKernels(*m);
  if (m->quantizesActivations()) readQuantizerShared(r, data, *m);
  return m;
}

}  // namespace gaqmd
