#pragma once
// Engine-internal: typed, validated reads from a ModelData. Every failure is a ModelError that
// names the attribute or array and says what was expected.

#include <string>
#include <vector>

#include "gaqmd/engine/Model.h"
#include "gaqmd/engine/ModelData.h"

namespace gaqmd {

std::string shapeString(const std::vector<int64_t>& shape);

class Reader {
 public:
  explicit Reader(const ModelData& data) : data_(data) {}

  bool has(const std::string& name) const { return data_.hasArray(name); }
  bool hasAttribute(const std::string& name) const { return data_.hasAttribute(name); }
  std::string text(const std::string& name) const { return data_.attribute(name); }
  long integer(const std::string& name, long lo, long hi) const;
  double number(const std::string& name) const;

  /// The array `name` with exactly `shape` and one of `dtypes` (first: preferred, for messages).
  const Array& array(const std::string& name, const std::vector<int64_t>& shape,
                     const std::vector<DType>& dtypes) const;
  /// float64 (or, with allowFloat32, float32) values of `name` with `shape`, as doubles; all finite.
  std::vector<double> doubles(const std::string& name, const std::vector<int64_t>& shape,
                              bool allowFloat32 = false) const;
  double scalar(const std::string& name) const { return doubles(name, {})[0]; }
  std::vector<int> ints(const std::string& name, const std::vector<int64_t>& shape) const;
  /// int32 values of a 1-D array of any length.
  std::vector<int> ints1d(const std::string& name) const;
  /// int32 (nblocks, 2) rows (mul, l); nblocks = -1 accepts any count.
  Irreps irreps(const std::string& name) const;

  /// Matrix `name` (rows, cols) in the mode's storage form (format.md, "Matrices"), alpha folded in.
  Matrix matrix(const std::string& name, int rows, int cols, Mode mode) const;
  /// Output size of matrix `name` (rows of NAME.w or NAME.scales), for sizes the attributes omit.
  int matrixRows(const std::string& name, Mode mode) const;
  Lsq lsq(const std::string& name, int channels) const;
  /// Per-component LSQ of a C x l block (kind int8): NAME.scale (1,) or (C,), returned per channel.
  Lsq int8Components(const std::string& name, int channels) const;
  Mddq mddq(const std::string& name, int channels) const;
  /// Quantizer of features with irreps `irreps` (blocks NAME.b{b}; l >= 1 blocks by NAME.b{b}.kind,
  /// which defaults to mddq for l = 1 blocks of w4a8 descriptions written before kinds existed).
  IrrepsQuant irrepsQuant(const std::string& name, const Irreps& irreps, Mode mode) const;
  EquiLinear linear(const std::string& name, const Irreps& in, const Irreps& out, Mode mode) const;

 private:
  const ModelData& data_;
};

}  // namespace gaqmd
