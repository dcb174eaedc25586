// The flat model description: dtype helpers and checked accessors.

#include "gaqmd/engine/ModelData.h"

namespace gaqmd {

std::string dtypeName(DType dtype) {
  switch (dtype) {
    case DType::Float64: return "float64";
    case DType::Float32: return "float32";
    case DType::Int32: return "int32";
    case DType::UInt8: return "uint8";
  }
  return "unknown";
}

DType dtypeFromName(const std::string& name) {
  if (name == "float64") return DType::Float64;
  if (name == "float32") return DType::Float32;
  if (name == "int32") return DType::Int32;
  if (name == "uint8") return DType::UInt8;
  throw ModelError("unsupported array dtype '" + name + "' (expected float64, float32, int32 or uint8)");
}

size_t dtypeSize(DType dtype) {
  switch (dtype) {
    case DType::Float64: return 8;
    case DType::Float32: return 4;
    case DType::Int32: return 4;
    case DType::UInt8: return 1;
  }
  return 0;
}

int64_t Array::numel() const {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

const std::string& ModelData::attribute(const std::string& name) const {
  auto it = attributes.find(name);
  if (it == attributes.end()) throw ModelError("model attribute '" + name + "' is missing");
  return it->second;
}

const Array& ModelData::array(const std::string& name) const {
  auto it = arrays.find(name);
  if (it == arrays.end()) throw ModelError("model array '" + name + "' is missing");
  return it->second;
}

}  // namespace gaqmd
