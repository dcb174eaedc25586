// GaqForce: parameter storage only; validation is in GaqForceImpl (needs the System).
#include "gaqmd/GaqForce.h"

#include <numeric>
#include <utility>

#include "gaqmd/internal/GaqForceImpl.h"

namespace gaqmd {

GaqForce::GaqForce() { setName("GaqForce"); }

GaqForce::GaqForce(ModelData model) : model_(std::move(model)) { setName("GaqForce"); }

std::vector<int> GaqForce::getModelParticles() const {
  if (hasSubset()) return subset_;
  std::vector<int> all(atomicNumbers_.size());
  std::iota(all.begin(), all.end(), 0);
  return all;
}

OpenMM::ForceImpl* GaqForce::createImpl() const { return new GaqForceImpl(*this); }

}  // namespace gaqmd
