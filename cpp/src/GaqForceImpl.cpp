// GaqForceImpl: checks a GaqForce against the System and drives the platform kernel.
#include "gaqmd/internal/GaqForceImpl.h"

#include <cstring>
#include <set>
#include <string>

#include "gaqmd/GaqKernels.h"
#include "gaqmd/internal/Elements.h"
#include "openmm/OpenMMException.h"
#include "openmm/internal/ContextImpl.h"

namespace gaqmd {

using OpenMM::OpenMMException;

std::vector<int> modelSpecies(const ModelData& model) {
  auto it = model.arrays.find("species");
  if (it == model.arrays.end())
    throw OpenMMException("GaqForce: the model has no 'species' array (atomic numbers it knows)");
  const Array& species = it->second;
  if (species.dtype != DType::Int32 || species.shape.size() != 1 ||
      species.bytes.size() != static_cast<size_t>(species.shape[0]) * sizeof(int32_t))
    throw OpenMMException("GaqForce: the model's 'species' array must be int32 of shape (S,)");
  std::vector<int> numbers(species.shape[0]);
  for (size_t s = 0; s < numbers.size(); ++s) {
    int32_t z;
    std::memcpy(&z, species.bytes.data() + s * sizeof(int32_t), sizeof(int32_t));
    numbers[s] = z;
  }
  return numbers;
}

static std::string knownElements(const std::vector<int>& species) {
  std::string names;
  for (int z : species) names += (names.empty() ? "" : ", ") + elementSymbol(z);
  return names;
}

static void checkSubset(const std::vector<int>& subset, int numParticles) {
  std::set<int> seen;
  for (size_t k = 0; k < subset.size(); ++k) {
    int p = subset[k];
    if (p < 0 || p >= numParticles)
      throw OpenMMException("GaqForce: subset entry " + std::to_string(k) + " is particle " +
                            std::to_string(p) + ", out of range for a System of " +
                            std::to_string(numParticles) + " particles");
    if (!seen.insert(p).second)
      throw OpenMMException("GaqForce: particle " + std::to_string(p) +
                            " appears more than once in the subset");
  }
}

void validateGaqForce(const GaqForce& force, int numParticles) {
  if (force.getNumParticles() != numParticles)
    throw OpenMMException("GaqForce: " + std::to_string(force.getNumParticles()) +
                          " atomic numbers for a System of " + std::to_string(numParticles) +
                          " particles (give one per particle; use the subset for the ML region)");
  checkSubset(force.getSubset(), numParticles);
  const std::vector<int> species = modelSpecies(force.getModel());
  const std::set<int> known(species.begin(), species.end());
  for (int p : force.getModelParticles()) {
    int z = force.getAtomicNumbers()[p];
    if (!known.count(z))
      throw OpenMMException("GaqForce: particle " + std::to_string(p) + " is " + elementSymbol(z) +
                            " (atomic number " + std::to_string(z) +
                            "), which the model does not know; it knows " + knownElements(species));
  }
  if (force.getModelParticles().empty())
    throw OpenMMException("GaqForce: no particles for the model");
}

void GaqForceImpl::initialize(OpenMM::ContextImpl& context) {
  const OpenMM::System& system = context.getSystem();
  validateGaqForce(owner_, system.getNumParticles());
  kernel_ = context.getPlatform().createKernel(CalcGaqForceKernel::Name(), context);
  kernel_.getAs<CalcGaqForceKernel>().initialize(system, owner_);
}

double GaqForceImpl::calcForcesAndEnergy(OpenMM::ContextImpl& context, bool includeForces,
                                         bool includeEnergy, int groups) {
  if ((groups & (1 << owner_.getForceGroup())) == 0) return 0.0;
  return kernel_.getAs<CalcGaqForceKernel>().execute(context, includeForces, includeEnergy);
}

std::vector<std::string> GaqForceImpl::getKernelNames() { return {CalcGaqForceKernel::Name()}; }

}  // namespace gaqmd
