// Typed, validated reads from a model description (see Reader.h).

#include "gaqmd/engine/Reader.h"

#include <cmath>
#include <cstring>
#include <sstream>

#include "gaqmd/math/quant.h"

namespace gaqmd {

std::string shapeString(const std::vector<int64_t>& shape) {
  std::ostringstream out;
  out << "(";
  for (size_t k = 0; k < shape.size(); ++k) out << (k ? ", " : "") << shape[k];
  out << (shape.size() == 1 ? ",)" : ")");
  return out.str();
}

long Reader::integer(const std::string& name, long lo, long hi) const {
  const std::string& value = data_.attribute(name);
  char* end = nullptr;
  const long parsed = std::strtol(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0') throw ModelError("model attribute '" + name + "' = '" + value + "' is not an integer");
  if (parsed < lo || parsed > hi)
    throw ModelError("model attribute '" + name + "' = " + value + " is outside " + std::to_string(lo) + ".." +
                     std::to_string(hi));
  return parsed;
}

double Reader::number(const std::string& name) const {
  const std::string& value = data_.attribute(name);
  char* end = nullptr;
  const double parsed = std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0' || !std::isfinite(parsed))
    throw ModelError("model attribute '" + name + "' = '" + value + "' is not a finite number");
  return parsed;
}

const Array& Reader::array(const std::string& name, const std::vector<int64_t>& shape,
                           const std::vector<DType>& dtypes) const {
  const Array& a = data_.array(name);
  bool dtypeOk = false;
  for (DType d : dtypes) dtypeOk = dtypeOk || a.dtype == d;
  if (!dtypeOk) {
    std::string expected;
    for (size_t k = 0; k < dtypes.size(); ++k) expected += (k ? " or " : "") + dtypeName(dtypes[k]);
    throw ModelError("model array '" + name + "' has dtype " + dtypeName(a.dtype) + ", expected " + expected);
  }
  if (a.shape != shape)
    throw ModelError("model array '" + name + "' has shape " + shapeString(a.shape) + ", expected " +
                     shapeString(shape));
  if (a.bytes.size() != static_cast<size_t>(a.numel()) * dtypeSize(a.dtype))
    throw ModelError("model array '" + name + "' holds " + std::to_string(a.bytes.size()) + " bytes, expected " +
                     std::to_string(a.numel() * dtypeSize(a.dtype)) + " for shape " + shapeString(a.shape));
  return a;
}

std::vector<double> Reader::doubles(const std::string& name, const std::vector<int64_t>& shape,
                                    bool allowFloat32) const {
  const Array& a = allowFloat32 ? array(name, shape, {DType::Float32, DType::Float64})
                                : array(name, shape, {DType::Float64});
  std::vector<double> values(a.numel());
  for (size_t k = 0; k < values.size(); ++k) {
    if (a.dtype == DType::Float64) {
      std::memcpy(&values[k], a.bytes.data() + 8 * k, 8);
    } else {
      float f;
      std::memcpy(&f, a.bytes.data() + 4 * k, 4);
      values[k] = f;
    }
    if (!std::isfinite(values[k]))
      throw ModelError("model array '" + name + "' holds a non-finite value at flat index " + std::to_string(k));
  }
  return values;
}

std::vector<int> Reader::ints(const std::string& name, const std::vector<int64_t>& shape) const {
  const Array& a = array(name, shape, {DType::Int32});
  std::vector<int> values(a.numel());
  if (!values.empty()) std::memcpy(values.data(), a.bytes.data(), 4 * values.size());
  return values;
}

std::vector<int> Reader::ints1d(const std::string& name) const {
  const Array& a = data_.array(name);
  if (a.shape.size() != 1)
    throw ModelError("model array '" + name + "' has shape " + shapeString(a.shape) + ", expected (n,)");
  return ints(name, a.shape);
}

Irreps Reader::irreps(const std::string& name) const {
  const Array& a = data_.array(name);
  if (a.shape.size() != 2 || a.shape[1] != 2)
    throw ModelError("model array '" + name + "' has shape " + shapeString(a.shape) + ", expected (nblocks, 2)");
  const std::vector<int> rows = ints(name, a.shape);
  Irreps irreps;
  for (size_t b = 0; b < rows.size() / 2; ++b) {
    const int mul = rows[2 * b], l = rows[2 * b + 1];
    if (mul <= 0 || l < 0 || l > 2)
      throw ModelError("model array '" + name + "' block " + std::to_string(b) + " = (" + std::to_string(mul) + ", " +
                       std::to_string(l) + ") is not a (mul > 0, l in 0..2) pair");
    irreps.mul.push_back(mul);
    irreps.l.push_back(l);
    irreps.offset.push_back(irreps.dim);
    irreps.dim += mul * (2 * l + 1);
  }
  return irreps;
}

Matrix Reader::matrix(const std::string& name, int rows, int cols, Mode mode) const {
  Matrix m;
  m.rows = rows;
  m.cols = cols;
  const double alpha = scalar(name + ".alpha");
  if (mode == Mode::Fp32) {
    m.a = doubles(name + ".w", {rows, cols}, true);
  } else {
    const long group = integer(name + ".group", 1, 1L << 30);  // may exceed cols: one group
    const int groups = static_cast<int>((cols + group - 1) / group);
    const int64_t numel = static_cast<int64_t>(rows) * cols;
    const Array& codes = array(name + ".codes", {(numel + 1) / 2}, {DType::UInt8});
    const std::vector<double> scales = doubles(name + ".scales", {rows, groups});
    if (has(name + ".shape")) {
      const std::vector<int> shape = ints(name + ".shape", {2});
      if (shape[0] != rows || shape[1] != cols)
        throw ModelError("model array '" + name + ".shape' says (" + std::to_string(shape[0]) + ", " +
                         std::to_string(shape[1]) + "), expected (" + std::to_string(rows) + ", " +
                         std::to_string(cols) + ")");
    }
    m.a.resize(numel);
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols; ++c) {
        const int64_t k = static_cast<int64_t>(r) * cols + c;
        m.a[k] = math::unpackInt4(codes.bytes.data(), k) * scales[r * groups + c / group];
      }
  }
  for (double& v : m.a) v *= alpha;
  m.pack();
  return m;
}

int Reader::matrixRows(const std::string& name, Mode mode) const {
  const std::string stored = name + (mode == Mode::Fp32 ? ".w" : ".scales");
  const Array& a = data_.array(stored);
  if (a.shape.size() != 2 || a.shape[0] < 1)
    throw ModelError("model array '" + stored + "' has shape " + shapeString(a.shape) + ", expected (out, ...)");
  return static_cast<int>(a.shape[0]);
}

Lsq Reader::lsq(const std::string& name, int channels) const {
  Lsq q;
  q.scale = doubles(name + ".scale", {channels});
  for (double s : q.scale)
    if (!(s > 0)) throw ModelError("model array '" + name + ".scale' holds a scale <= 0");
  q.qmin = static_cast<double>(integer(name + ".qmin", -(1L << 30), 1L << 30));
  q.qmax = static_cast<double>(integer(name + ".qmax", -(1L << 30), 1L << 30));
  if (q.qmin > q.qmax) throw ModelError("model attributes '" + name + ".qmin' > '" + name + ".qmax'");
  const std::string ste = hasAttribute("int8_ste") ? text("int8_ste") : "clipped";
  if (ste != "clipped" && ste != "unclipped")
    throw ModelError("model attribute 'int8_ste' = '" + ste + "' (expected clipped or unclipped)");
  q.clipped = ste == "clipped";
  return q;
}

Lsq Reader::int8Components(const std::string& name, int channels) const {
  const Array& a = data_.array(name + ".scale");
  if (a.shape != std::vector<int64_t>{1} && a.shape != std::vector<int64_t>{channels})
    throw ModelError("model array '" + name + ".scale' has shape " + shapeString(a.shape) + ", expected (1,) or (" +
                     std::to_string(channels) + ",)");
  Lsq q = lsq(name, static_cast<int>(a.shape[0]));
  if (q.scale.size() == 1) q.scale.assign(channels, q.scale[0]);
  return q;
}

Mddq Reader::mddq(const std::string& name, int channels) const {
  Mddq q;
  q.scale = doubles(name + ".scale", {channels});
  for (double s : q.scale)
    if (!(s > 0)) throw ModelError("model array '" + name + ".scale' holds a scale <= 0");
  q.qmax = static_cast<double>(integer(name + ".qmax", 0, 1L << 30));
  q.logDomain = integer(name + ".log_domain", 0, 1) == 1;
  if (q.logDomain) q.logMin = doubles(name + ".log_min", {channels});
  return q;
}

IrrepsQuant Reader::irrepsQuant(const std::string& name, const Irreps& irreps, Mode mode) const {
  IrrepsQuant q;
  q.kind.resize(irreps.size());
  q.lsq.resize(irreps.size());
  q.mddq.resize(irreps.size());
  q.local.assign(irreps.size(), 0);
  for (int b = 0; b < irreps.size(); ++b) {
    const std::string block = name + ".b" + std::to_string(b);
    const int l = irreps.l[b], mul = irreps.mul[b];
    if (l == 0) {
      q.kind[b] = BlockKind::Lsq;
      q.lsq[b] = lsq(block, mul);
      continue;
    }
    const std::string attribute = block + ".kind";
    const bool legacy = !hasAttribute(attribute) && mode == Mode::W4A8 && l == 1;
    const std::string kind = legacy ? "mddq" : text(attribute);  // text(): ModelError if missing
    if (kind == "mddq") {
      if (l != 1)
        throw ModelError("model attribute '" + attribute + "' = 'mddq' is for l = 1 blocks only (block " +
                         std::to_string(b) + " has l = " + std::to_string(l) + ")");
      q.kind[b] = BlockKind::Mddq;
      q.mddq[b] = mddq(block, mul);
    } else if (kind == "mddq-fp16") {
      q.kind[b] = BlockKind::MddqFp16;
      q.mddq[b] = mddq(block, mul);
    } else if (kind == "int8") {
      q.kind[b] = BlockKind::Int8;
      q.lsq[b] = int8Components(block, mul);
    } else if (kind == "fp16") {
      q.kind[b] = BlockKind::Fp16;
    } else {
      throw ModelError("model attribute '" + attribute + "' = '" + kind +
                       "' is not a quantizer kind (expected mddq, int8, mddq-fp16 or fp16)");
    }
    const std::string frameAttribute = block + ".frame";
    if (hasAttribute(frameAttribute)) {
      const std::string frame = text(frameAttribute);
      if (frame != "local" && frame != "global")
        throw ModelError("model attribute '" + frameAttribute + "' = '" + frame + "' (expected local or global)");
      if (frame == "local" && l != 2)
        throw ModelError("model attribute '" + frameAttribute + "' = 'local' is for l = 2 blocks only (block " +
                         std::to_string(b) + " has l = " + std::to_string(l) + ")");
      q.local[b] = frame == "local";
    }
  }
  return q;
}

EquiLinear Reader::linear(const std::string& name, const Irreps& in, const Irreps& out, Mode mode) const {
  EquiLinear lin;
  lin.in = irreps(name + ".irreps_in");
  lin.out = irreps(name + ".irreps_out");
  if (!(lin.in == in) || !(lin.out == out))
    throw ModelError("model arrays '" + name + ".irreps_in/_out' do not match the irreps of the features they map");
  const Array& paths = data_.array(name + ".paths");
  if (paths.shape.size() != 2 || paths.shape[1] != 2)
    throw ModelError("model array '" + name + ".paths' has shape " + shapeString(paths.shape) + ", expected (P, 2)");
  const std::vector<int> rows = ints(name + ".paths", paths.shape);
  for (size_t p = 0; p < rows.size() / 2; ++p) {
    const int bin = rows[2 * p], bout = rows[2 * p + 1];
    if (bin < 0 || bin >= in.size() || bout < 0 || bout >= out.size() || in.l[bin] != out.l[bout])
      throw ModelError("model array '" + name + ".paths' row " + std::to_string(p) + " is not a valid (block_in, block_out)");
    lin.blockIn.push_back(bin);
    lin.blockOut.push_back(bout);
    lin.w.push_back(matrix(name + ".p" + std::to_string(p), out.mul[bout], in.mul[bin], mode));
  }
  return lin;
}

}  // namespace gaqmd
