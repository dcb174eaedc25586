// Host kernels of GaqForce: unit conversion at the boundary, the engine does the arithmetic.
#include "ReferenceGaqKernels.h"

#include <cmath>
#include <map>

#include "gaqmd/internal/Units.h"
#include "openmm/OpenMMException.h"
#include "openmm/reference/ReferencePlatform.h"

namespace gaqmd {

using OpenMM::OpenMMException;
using OpenMM::Vec3;

static OpenMM::ReferencePlatform::PlatformData& platformData(OpenMM::ContextImpl& context) {
  return *static_cast<OpenMM::ReferencePlatform::PlatformData*>(context.getPlatformData());
}

ReferenceCalcGaqForceKernel::ReferenceCalcGaqForceKernel(const std::string& name,
                                                         const OpenMM::Platform& platform, int threads)
    : CalcGaqForceKernel(name, platform), threads_(threads < 1 ? 1 : threads) {}

ReferenceCalcGaqForceKernel::~ReferenceCalcGaqForceKernel() = default;

void ReferenceCalcGaqForceKernel::initialize(const OpenMM::System&, const GaqForce& force) {
  try {
    engine_ = std::make_unique<Engine>(force.getModel());
  } catch (const ModelError& error) {
    throw OpenMMException(std::string("GaqForce: invalid model: ") + error.what());
  }
  std::map<int, int> indexOf;  // atomic number -> species index
  for (size_t s = 0; s < engine_->species().size(); ++s) indexOf[engine_->species()[s]] = int(s);
  particles_ = force.getModelParticles();
  speciesIndex_.clear();
  for (int p : particles_) {
    auto it = indexOf.find(force.getAtomicNumbers()[p]);
    if (it == indexOf.end())  // GaqForceImpl checked this against the same species array
      throw OpenMMException("GaqForce: particle " + std::to_string(p) + " has an element the engine does not know");
    speciesIndex_.push_back(it->second);
  }
  periodic_ = force.usesPeriodicBoundaryConditions();
  positions_.assign(3 * particles_.size(), 0.0);
  forces_.assign(3 * particles_.size(), 0.0);
}

void ReferenceCalcGaqForceKernel::gatherPositions(const std::vector<Vec3>& positions) {
  for (size_t i = 0; i < particles_.size(); ++i) {
    const Vec3& r = positions[particles_[i]];  // nm
    if (!std::isfinite(r[0]) || !std::isfinite(r[1]) || !std::isfinite(r[2]))
      throw OpenMMException("GaqForce: particle " + std::to_string(particles_[i]) +
                            " has a non-finite position; the simulation has probably blown up "
                            "(time step too large?)");
    for (int a = 0; a < 3; ++a) positions_[3 * i + a] = r[a] * units::kAngstromPerNm;
  }
}

const double* ReferenceCalcGaqForceKernel::gatherBox(const Vec3* boxVectors) {
  if (!periodic_) return nullptr;
  for (int row = 0; row < 3; ++row)
    for (int a = 0; a < 3; ++a) box_[3 * row + a] = boxVectors[row][a] * units::kAngstromPerNm;
  return box_;
}

double ReferenceCalcGaqForceKernel::execute(OpenMM::ContextImpl& context, bool includeForces, bool) {
  auto& data = platformData(context);
  gatherPositions(*data.positions);
  const double* box = gatherBox(data.periodicBoxVectors);
  double energy = 0.0;  // eV
  try {
    energy = engine_->compute(positions_.data(), speciesIndex_.data(), int(particles_.size()), box,
                              forces_.data(), threads_);
  } catch (const std::exception& error) {  // InputError (positions, box) or ModelError
    throw OpenMMException(std::string("GaqForce: ") + error.what());
  }
  if (includeForces) {
    std::vector<Vec3>& out = *data.forces;  // kJ/mol/nm
    for (size_t i = 0; i < particles_.size(); ++i)
      for (int a = 0; a < 3; ++a) out[particles_[i]][a] += forces_[3 * i + a] * units::kKjPerMolNmPerEvAngstrom;
  }
  return energy * units::kKjPerMolPerEv;
}

}  // namespace gaqmd
