#pragma once
// The abstract kernel behind GaqForce (OpenMM's Force -> Impl -> Kernel pattern). Each platform
// (Reference, CPU, later CUDA) provides a subclass through its KernelFactory.

#include <string>

#include "gaqmd/GaqForce.h"
#include "openmm/KernelImpl.h"
#include "openmm/Platform.h"
#include "openmm/System.h"
#include "openmm/internal/ContextImpl.h"

namespace gaqmd {

class CalcGaqForceKernel : public OpenMM::KernelImpl {
 public:
  static std::string Name() { return "CalcGaqForce"; }

  CalcGaqForceKernel(const std::string& name, const OpenMM::Platform& platform)
      : OpenMM::KernelImpl(name, platform) {}

  /// Builds the engine from the force's model; the force has been validated against `system`.
  virtual void initialize(const OpenMM::System& system, const GaqForce& force) = 0;

  /// Adds the ML particles' forces (kJ/mol/nm) to the context when includeForces and returns
  /// the energy (kJ/mol).
  virtual double execute(OpenMM::ContextImpl& context, bool includeForces, bool includeEnergy) = 0;
};

}  // namespace gaqmd
