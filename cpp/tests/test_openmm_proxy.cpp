// GaqForceProxy: a round trip keeps every byte; malformed XML throws OpenMMException naming the
// problem (never a crash). No engine arithmetic is needed here.
#include <cstdio>
#include <functional>
#include <iostream>
#include <random>
#include <sstream>

#include "Base64.h"
#include "GaqForceProxy.h"
#include "openmm/HarmonicBondForce.h"
#include "openmm/OpenMMException.h"
#include "openmm/System.h"
#include "openmm/serialization/XmlSerializer.h"

using namespace gaqmd;

static int failures = 0;
#define CHECK(condition)                                                         \
  do {                                                                           \
    if (!(condition)) {                                                          \
      std::cerr << __FILE__ << ":" << __LINE__ << ": failed: " #condition "\n";  \
      ++failures;                                                                \
    }                                                                            \
  } while (0)

static Array randomArray(DType dtype, std::vector<int64_t> shape, std::mt19937& rng) {
  Array array;
  array.dtype = dtype;
  array.shape = std::move(shape);
  array.bytes.resize(size_t(array.numel()) * dtypeSize(dtype));
  for (auto& byte : array.bytes) byte = uint8_t(rng());
  return array;
}

static GaqForce sampleForce() {
  std::mt19937 rng(7);
  ModelData model;
  model.attributes = {{"cutoff", "5.0"}, {"mode", "w4a8"}, {"odd", "quotes \" ' <tag> & amp; \t tab"}};
  model.arrays["species"] = randomArray(DType::Int32, {3}, rng);
  model.arrays["w"] = randomArray(DType::Float32, {5, 7}, rng);       // 140 bytes: 2 padding chars
  model.arrays["codes"] = randomArray(DType::UInt8, {11}, rng);       // 11 bytes: 1 padding char
  model.arrays["alpha"] = randomArray(DType::Float64, {}, rng);       // scalar
  model.arrays["empty"] = randomArray(DType::Float64, {0, 4}, rng);   // no bytes at all
  model.arrays["big"] = randomArray(DType::Float64, {2, 3, 4}, rng);  // 3-d
  GaqForce force(model);
  force.setAtomicNumbers({8, 1, 1, 0, 6});
  force.setSubset({4, 0, 2});
  force.setUsesPeriodicBoundaryConditions(true);
  force.setForceGroup(5);
  force.setName("my ML region");
  return force;
}

static void testRoundTripKeepsEveryByte() {
  GaqForce original = sampleForce();
  std::unique_ptr<GaqForce> copy = gaqForceFromXml(gaqForceToXml(original));
  CHECK(copy->getModel().attributes == original.getModel().attributes);
  CHECK(copy->getModel().arrays.size() == original.getModel().arrays.size());
  for (const auto& [name, array] : original.getModel().arrays) {
    const Array& other = copy->getModel().array(name);
    CHECK(other.dtype == array.dtype);
    CHECK(other.shape == array.shape);
    CHECK(other.bytes == array.bytes);
  }
  CHECK(copy->getAtomicNumbers() == original.getAtomicNumbers());
  CHECK(copy->getSubset() == original.getSubset());
  CHECK(copy->usesPeriodicBoundaryConditions());
  CHECK(copy->getForceGroup() == 5);
  CHECK(copy->getName() == "my ML region");
}

static void testRoundTripInsideASystem() {
  OpenMM::System system;
  for (int i = 0; i < 5; ++i) system.addParticle(1.0);
  system.addForce(new GaqForce(sampleForce()));
  std::stringstream stream;
  OpenMM::XmlSerializer::serialize<OpenMM::System>(&system, "System", stream);
  std::unique_ptr<OpenMM::System> copy(OpenMM::XmlSerializer::deserialize<OpenMM::System>(stream));
  auto* force = dynamic_cast<GaqForce*>(&copy->getForce(0));
  CHECK(force != nullptr);
  if (force) CHECK(force->getModel().array("big").bytes == sampleForce().getModel().array("big").bytes);
}

static void testBase64() {
  std::mt19937 rng(3);
  for (size_t n = 0; n < 20; ++n) {
    std::vector<uint8_t> bytes(n);
    for (auto& byte : bytes) byte = uint8_t(rng());
    CHECK(base64Decode(base64Encode(bytes)) == bytes);
  }
  CHECK(base64Encode({'M', 'a', 'n'}) == "TWFu");
  CHECK(base64Encode({'M'}) == "TQ==");
  for (const char* bad : {"TWF", "TW=u", "T*Fu", "===="}) {
    bool threw = false;
    try {
      base64Decode(bad);
    } catch (const std::invalid_argument&) {
      threw = true;
    }
    CHECK(threw);
  }
}

/// Edits the XML of sampleForce and checks that reading it throws an error containing `expected`.
static void expectError(const std::string& what, const std::function<std::string(std::string)>& edit,
                        const std::string& expected) {
  std::string xml = edit(gaqForceToXml(sampleForce()));
  try {
    gaqForceFromXml(xml);
    std::cerr << what << ": no exception\n";
    ++failures;
  } catch (const OpenMM::OpenMMException& error) {
    if (std::string(error.what()).find(expected) == std::string::npos) {
      std::cerr << what << ": message '" << error.what() << "' lacks '" << expected << "'\n";
      ++failures;
    }
  }
}

static std::string replaced(std::string text, const std::string& from, const std::string& to) {
  size_t pos = text.find(from);
  if (pos == std::string::npos) throw std::runtime_error("test setup: '" + from + "' not in the XML");
  return text.replace(pos, from.size(), to);
}

static std::string dataOf(const std::string& xml, const std::string& name) {
  size_t element = xml.rfind("<Array ", xml.find("name=\"" + name + "\""));
  size_t at = xml.find("data=\"", element);
  return xml.substr(at + 6, xml.find('"', at + 6) - at - 6);
}

static void testMalformedXmlThrows() {
  using S = std::string;
  expectError("version", [](S x) { return replaced(x, "version=\"1\"", "version=\"2\""); },
              "unsupported version 2");
  expectError("arrays", [](S x) { return replaced(replaced(x, "<Arrays>", "<Arrayz>"), "</Arrays>", "</Arrayz>"); },
              "missing element <Arrays>");
  expectError("particles", [](S x) { return replaced(x, "<Particles>", "<Particles><Particle/>"); },
              "no 'z' attribute");
  expectError("z", [](S x) { return replaced(x, "z=\"8\"", "z=\"eight\""); }, "not an integer");
  expectError("dtype", [](S x) { return replaced(x, "dtype=\"float32\"", "dtype=\"float16\""); }, "array 'w'");
  expectError("shape", [](S x) { return replaced(x, "shape=\"5,7\"", "shape=\"5,x\""); }, "not an integer");
  expectError("base64", [](S x) { S d = dataOf(x, "big"); return replaced(x, d, "!" + d.substr(1)); },
              "array 'big': data does not decode");
  expectError("truncated", [](S x) { S d = dataOf(x, "big"); return replaced(x, d, d.substr(0, d.size() - 8)); },
              "array 'big' holds 186 bytes but float64 of shape (2,3,4) needs 192 (truncated or corrupted)");
  expectError("shape mismatch", [](S x) { return replaced(x, "shape=\"2,3,4\"", "shape=\"2,3,5\""); },
              "needs 240");
  expectError("group", [](S x) { return replaced(x, "forceGroup=\"5\"", "forceGroup=\"40\""); }, "forceGroup 40");
  expectError("system", [](S) { return S("<System type=\"System\" version=\"1\"/>"); }, "root element is <System>");
  expectError("not xml", [](S) { return S("hello"); }, "does not start with an XML element");
  expectError("empty", [](S) { return S("<?xml version=\"1.0\" ?>\n"); }, "no root element");
  expectError("mismatched", [](S x) { return replaced(x, "</Arrays>", "</Arrayz>"); }, "</Arrayz> closes <Arrays>");
  expectError("no version", [](S x) { return replaced(x, "version=\"1\"", ""); }, "no 'version' attribute");
}

static void testOtherForceIsRejected() {
  OpenMM::HarmonicBondForce bond;
  std::stringstream stream;
  OpenMM::XmlSerializer::serialize<OpenMM::Force>(&bond, "Force", stream);
  expectError("other force", [&](std::string) { return stream.str(); }, "holds a HarmonicBondForce");
}

static void testTruncatedFileNeverCrashes() {
  std::string xml = gaqForceToXml(sampleForce());
  int thrown = 0, cuts = 0;
  for (size_t cut = 1; cut < xml.size(); cut += xml.size() / 37 + 1, ++cuts) {
    try {
      gaqForceFromXml(xml.substr(0, cut));
    } catch (const OpenMM::OpenMMException&) {
      ++thrown;
    }
  }
  CHECK(thrown == cuts);  // every truncation is an exception
}

int main() {
  testRoundTripKeepsEveryByte();
  testRoundTripInsideASystem();
  testBase64();
  testMalformedXmlThrows();
  testOtherForceIsRejected();
  testTruncatedFileNeverCrashes();
  if (failures) std::cerr << failures << " check(s) failed\n";
  else std::cout << "test_openmm_proxy: all checks passed\n";
  return failures ? 1 : 0;
}
