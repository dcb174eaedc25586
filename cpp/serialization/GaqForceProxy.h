#pragma once
// XML serialization of GaqForce (version 1). This is also the model file format (model.gaq):
//
//   <Force type="GaqForce" version="1" name="GaqForce" forceGroup="0" periodic="0">
//     <Attributes> <Attribute name="cutoff" value="5.0"/> ... </Attributes>
//     <Arrays> <Array name="species" dtype="int32" shape="3" data="<base64 little-endian bytes>"/> ...
//     <Particles> <Particle z="8"/> ... </Particles>      one per System particle
//     <Subset> <Particle index="3"/> ... </Subset>        the ML region; empty: all particles
//   </Force>
//
// Every malformed input gives an OpenMMException naming the problem (version, element, array).

#include <memory>
#include <string>

#include "gaqmd/GaqForce.h"
#include "openmm/serialization/SerializationNode.h"
#include "openmm/serialization/SerializationProxy.h"

namespace gaqmd {

class GaqForceProxy : public OpenMM::SerializationProxy {
 public:
  static constexpr int kVersion = 1;
  GaqForceProxy() : OpenMM::SerializationProxy("GaqForce") {}
  void serialize(const void* object, OpenMM::SerializationNode& node) const override;
  void* deserialize(const OpenMM::SerializationNode& node) const override;
};

/// Registers GaqForceProxy with OpenMM's serializer (once; later calls do nothing).
void registerSerializationProxies();

/// The XML of a force (XmlSerializer, root element "Force").
std::string gaqForceToXml(const GaqForce& force);

/// Reads a GaqForce from XML; an XML document of anything else (a System, another Force, not XML)
/// throws OpenMMException saying what it is.
std::unique_ptr<GaqForce> gaqForceFromXml(const std::string& xml);

}  // namespace gaqmd
