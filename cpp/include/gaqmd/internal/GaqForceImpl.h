#pragma once
// The ForceImpl of GaqForce: validates the force against the Context's System and forwards each
// evaluation to the platform's CalcGaqForce kernel.

#include <map>
#include <string>
#include <vector>

#include "gaqmd/GaqForce.h"
#include "openmm/Kernel.h"
#include "openmm/internal/ForceImpl.h"

namespace gaqmd {

class GaqForceImpl : public OpenMM::ForceImpl {
 public:
  explicit GaqForceImpl(const GaqForce& owner) : owner_(owner) {}

  /// Throws OpenMMException naming the problem: particle count, subset index, unknown element.
  void initialize(OpenMM::ContextImpl& context) override;
  const GaqForce& getOwner() const override { return owner_; }
  void updateContextState(OpenMM::ContextImpl&, bool&) override {}
  double calcForcesAndEnergy(OpenMM::ContextImpl& context, bool includeForces, bool includeEnergy,
                             int groups) override;
  std::map<std::string, double> getDefaultParameters() override { return {}; }
  std::vector<std::string> getKernelNames() override;

 private:
  const GaqForce& owner_;
  OpenMM::Kernel kernel_;
};

/// The model's species (atomic numbers, the int32 array "species"); throws OpenMMException when
/// the array is missing or malformed.
std::vector<int> modelSpecies(const ModelData& model);

/// Checks `force` against a System of `numParticles` particles; throws OpenMMException naming the
/// first problem (count mismatch, subset index out of range or repeated, element not in the model).
void validateGaqForce(const GaqForce& force, int numParticles);

}  // namespace gaqmd
