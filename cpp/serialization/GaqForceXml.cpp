// GaqForce <-> XML text. Writing goes through OpenMM's XmlSerializer; reading goes through the
// strict XmlReader (OpenMM's reader crashes on truncated input) and then the proxy.
#include <sstream>

#include "GaqForceProxy.h"
#include "XmlReader.h"
#include "openmm/OpenMMException.h"
#include "openmm/serialization/XmlSerializer.h"

namespace gaqmd {

using OpenMM::OpenMMException;

std::string gaqForceToXml(const GaqForce& force) {
  registerSerializationProxies();
  std::stringstream stream;
  OpenMM::XmlSerializer::serialize<OpenMM::Force>(&force, "Force", stream);
  return stream.str();
}

std::unique_ptr<GaqForce> gaqForceFromXml(const std::string& xml) {
  OpenMM::SerializationNode root;
  try {
    root = parseXml(xml);
  } catch (const OpenMMException& error) {
    throw OpenMMException(std::string("not a readable GaqForce XML document: ") + error.what());
  }
  if (root.getName() != "Force")
    throw OpenMMException("not a GaqForce XML document: the root element is <" + root.getName() +
                          ">, expected <Force type=\"GaqForce\">");
  std::string type = root.getStringProperty("type", "");
  if (type != "GaqForce")
    throw OpenMMException("not a GaqForce XML document: it holds a " + (type.empty() ? "Force without a type" : type) +
                          ", not a GaqForce");
  return std::unique_ptr<GaqForce>(static_cast<GaqForce*>(GaqForceProxy().deserialize(root)));
}

}  // namespace gaqmd
