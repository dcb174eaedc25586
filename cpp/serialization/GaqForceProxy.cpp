// GaqForceProxy: GaqForce <-> SerializationNode, strict on the way in.
#include "GaqForceProxy.h"

#include <charconv>
#include <limits>
#include <typeinfo>

#include "Base64.h"
#include "openmm/OpenMMException.h"

namespace gaqmd {

using OpenMM::OpenMMException;
using OpenMM::SerializationNode;

namespace {

[[noreturn]] void fail(const std::string& message) { throw OpenMMException("GaqForce XML: " + message); }

const SerializationNode& child(const SerializationNode& node, const std::string& name) {
  for (const SerializationNode& c : node.getChildren())
    if (c.getName() == name) return c;
  fail("missing element <" + name + "> in <" + node.getName() + ">");
}

std::string property(const SerializationNode& node, const std::string& name, const std::string& where) {
  if (!node.hasProperty(name)) fail(where + " has no '" + name + "' attribute");
  return node.getStringProperty(name);
}

long long parseInteger(const std::string& text, const std::string& what) {
  long long value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty())
    fail(what + " is '" + text + "', not an integer");
  return value;
}

int parseInt(const std::string& text, const std::string& what) {
  long long value = parseInteger(text, what);
  if (value < std::numeric_limits<int>::min() || value > std::numeric_limits<int>::max())
    fail(what + " is " + text + ", out of range");
  return int(value);
}

std::string shapeText(const std::vector<int64_t>& shape) {
  std::string text;
  for (size_t k = 0; k < shape.size(); ++k) text += (k ? "," : "") + std::to_string(shape[k]);
  return text;
}

std::vector<int64_t> parseShape(const std::string& text, const std::string& where) {
  std::vector<int64_t> shape;
  if (text.empty()) return shape;  // a scalar
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    long long dim = parseInteger(text.substr(start, comma - start), where + " shape entry");
    if (dim < 0 || dim > (1LL << 40)) fail(where + " has a shape entry " + std::to_string(dim) + " out of range");
    shape.push_back(dim);
    if (comma == std::string::npos) return shape;
    start = comma + 1;
  }
}

uint64_t expectedBytes(const Array& array, const std::string& where) {
  uint64_t count = dtypeSize(array.dtype);
  for (int64_t dim : array.shape) {
    if (dim != 0 && count > (uint64_t(1) << 50) / uint64_t(dim)) fail(where + " is impossibly large");
    count *= uint64_t(dim);
  }
  return count;
}

Array readArray(const SerializationNode& node, const std::string& where) {
  Array array;
  try {
    array.dtype = dtypeFromName(property(node, "dtype", where));
  } catch (const ModelError& error) {
    fail(where + ": " + error.what());
  }
  array.shape = parseShape(property(node, "shape", where), where);
  try {
    array.bytes = base64Decode(property(node, "data", where));
  } catch (const std::invalid_argument& error) {
    fail(where + ": data does not decode (" + error.what() + ")");
  }
  uint64_t expected = expectedBytes(array, where);
  if (array.bytes.size() != expected)
    fail(where + " holds " + std::to_string(array.bytes.size()) + " bytes but " + dtypeName(array.dtype) +
         " of shape (" + shapeText(array.shape) + ") needs " + std::to_string(expected) +
         " (truncated or corrupted)");
  return array;
}

void readModel(const SerializationNode& node, ModelData& model) {
  for (const SerializationNode& a : child(node, "Attributes").getChildren()) {
    std::string name = property(a, "name", "an <Attribute>");
    if (!model.attributes.emplace(name, property(a, "value", "attribute '" + name + "'")).second)
      fail("attribute '" + name + "' appears twice");
  }
  for (const SerializationNode& a : child(node, "Arrays").getChildren()) {
    std::string name = property(a, "name", "an <Array>");
    if (model.arrays.count(name)) fail("array '" + name + "' appears twice");
    model.arrays.emplace(name, readArray(a, "array '" + name + "'"));
  }
}

std::vector<int> readIntegers(const SerializationNode& list, const std::string& key, const std::string& what) {
  std::vector<int> values;
  for (const SerializationNode& p : list.getChildren()) {
    std::string where = what + " " + std::to_string(values.size());
    values.push_back(parseInt(property(p, key, where), where + " '" + key + "'"));
  }
  return values;
}

void writeIntegers(SerializationNode& list, const std::vector<int>& values, const std::string& key) {
  for (int value : values) list.createChildNode("Particle").setIntProperty(key, value);
}

}  // namespace

void GaqForceProxy::serialize(const void* object, SerializationNode& node) const {
  const GaqForce& force = *static_cast<const GaqForce*>(object);
  node.setIntProperty("version", kVersion);
  node.setStringProperty("name", force.getName());
  node.setIntProperty("forceGroup", force.getForceGroup());
  node.setBoolProperty("periodic", force.usesPeriodicBoundaryConditions());
  SerializationNode& attributes = node.createChildNode("Attributes");
  for (const auto& [name, value] : force.getModel().attributes)
    attributes.createChildNode("Attribute").setStringProperty("name", name).setStringProperty("value", value);
  SerializationNode& arrays = node.createChildNode("Arrays");
  for (const auto& [name, array] : force.getModel().arrays)
    arrays.createChildNode("Array")
        .setStringProperty("name", name)
        .setStringProperty("dtype", dtypeName(array.dtype))
        .setStringProperty("shape", shapeText(array.shape))
        .setStringProperty("data", base64Encode(array.bytes));
  writeIntegers(node.createChildNode("Particles"), force.getAtomicNumbers(), "z");
  writeIntegers(node.createChildNode("Subset"), force.getSubset(), "index");
}

void* GaqForceProxy::deserialize(const SerializationNode& node) const {
  int version = parseInt(property(node, "version", "<Force>"), "version");
  if (version != kVersion)
    fail("unsupported version " + std::to_string(version) + " (this gaqmd reads version " +
         std::to_string(kVersion) + ")");
  ModelData model;
  readModel(node, model);
  auto force = std::make_unique<GaqForce>(std::move(model));
  force->setName(node.getStringProperty("name", "GaqForce"));
  int group = parseInt(node.getStringProperty("forceGroup", "0"), "forceGroup");
  if (group < 0 || group > 31) fail("forceGroup " + std::to_string(group) + " is outside 0..31");
  force->setForceGroup(group);
  std::string periodic = node.getStringProperty("periodic", "0");
  if (periodic != "0" && periodic != "1" && periodic != "true" && periodic != "false")
    fail("periodic is '" + periodic + "', not a boolean");
  force->setUsesPeriodicBoundaryConditions(periodic == "1" || periodic == "true");
  force->setAtomicNumbers(readIntegers(child(node, "Particles"), "z", "particle"));
  force->setSubset(readIntegers(child(node, "Subset"), "index", "subset entry"));
  return force.release();
}

void registerSerializationProxies() {
  static const bool registered = [] {
    OpenMM::SerializationProxy::registerProxy(typeid(GaqForce), new GaqForceProxy());
    return true;
  }();
  (void)registered;
}

}  // namespace gaqmd
