#pragma once
// The KernelFactory of GaqForce on the host platforms, and its registration.

#include <string>
#include <vector>

#include "openmm/KernelFactory.h"

namespace gaqmd {

/// Creates ReferenceCalcGaqForceKernel: one thread on "Reference", the platform's threads on "CPU".
class HostGaqKernelFactory : public OpenMM::KernelFactory {
 public:
  OpenMM::KernelImpl* createKernelImpl(std::string name, const OpenMM::Platform& platform,
                                       OpenMM::ContextImpl& context) const override;
};

/// Registers the factory with the Reference and CPU platforms that are loaded. Safe to call more
/// than once: each platform is registered once (call again after loading more plugins).
void registerKernelFactories();

/// Names of the loaded platforms that can create the "CalcGaqForce" kernel.
std::vector<std::string> platformsWithGaqKernels();

}  // namespace gaqmd

/// OpenMM's plugin loader entry point (Platform::loadPluginsFromDirectory).
extern "C" void registerKernelFactories();
