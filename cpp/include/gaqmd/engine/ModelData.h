#pragma once
// The flat model description (docs/format.md): named string attributes and named typed arrays.
// It is what the XML proxy reads and writes and what the engine is built from.

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace gaqmd {

/// Raised for every problem with a model description: missing or mis-shaped array, bad attribute,
/// unsupported version or mode. The message names the offending item.
class ModelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Raised for bad inputs to an evaluation: NaN positions, unknown species, box too small.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class DType { Float64, Float32, Int32, UInt8 };

std::string dtypeName(DType dtype);          // "float64", "float32", "int32", "uint8"
DType dtypeFromName(const std::string& name);  // throws ModelError for an unknown name
size_t dtypeSize(DType dtype);

struct Array {
  DType dtype = DType::Float64;
  std::vector<int64_t> shape;  // empty: a scalar
  std::vector<uint8_t> bytes;  // little-endian, C order; size = numel * dtypeSize(dtype)

  int64_t numel() const;
};

struct ModelData {
  std::map<std::string, std::string> attributes;
  std::map<std::string, Array> arrays;

  const std::string& attribute(const std::string& name) const;  // throws ModelError if missing
  const Array& array(const std::string& name) const;             // throws ModelError if missing
  bool hasArray(const std::string& name) const { return arrays.count(name) != 0; }
  bool hasAttribute(const std::string& name) const { return attributes.count(name) != 0; }
};

}  // namespace gaqmd
