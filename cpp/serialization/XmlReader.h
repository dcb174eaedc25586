#pragma once
// A strict reader for the XML that OpenMM's XmlSerializer writes (elements, attributes, comments,
// processing instructions, character references). OpenMM's own reader (irrXML) crashes on a
// truncated document, and a model file is untrusted input, so GaqForce XML is read with this one:
// any malformed or truncated document throws OpenMMException with the line number.

#include <string>

#include "openmm/serialization/SerializationNode.h"

namespace gaqmd {

/// The document's root element as a SerializationNode (attributes -> properties; text ignored).
OpenMM::SerializationNode parseXml(const std::string& xml);

}  // namespace gaqmd
