// The OpenMM plugin entry points of libgaqmdCUDA.so: a KernelFactory for the CUDA platform.
// Load it after OpenMM's own plugins (Platform::loadPluginsFromDirectory, or
// Platform::loadPluginLibrary followed by a call of registerKernelFactories; tests/gpu/conftest.py).

#include "CudaGaqKernels.h"
#include "CudaPlatform.h"
#include "openmm/KernelFactory.h"
#include "openmm/OpenMMException.h"
#include "openmm/internal/ContextImpl.h"

namespace gaqmd::cuda {

class CudaGaqKernelFactory : public OpenMM::KernelFactory {
 public:
  OpenMM::KernelImpl* createKernelImpl(std::string name, const OpenMM::Platform& platform,
                                       OpenMM::ContextImpl& context) const override {
    auto& data = *static_cast<OpenMM::CudaPlatform::PlatformData*>(context.getPlatformData());
    if (name == CalcGaqForceKernel::Name()) return new CudaCalcGaqForceKernel(name, platform, *data.contexts[0]);
    throw OpenMM::OpenMMException("gaqmd: no kernel named '" + name + "' on CUDA");
  }
};

}  // namespace gaqmd::cuda

/// Registers the factory with the CUDA platform, if OpenMM has loaded it (once per platform).
extern "C" OPENMM_EXPORT void registerKernelFactories() {
  for (int i = 0; i < OpenMM::Platform::getNumPlatforms(); ++i) {
    OpenMM::Platform& platform = OpenMM::Platform::getPlatform(i);
    if (platform.getName() == "CUDA" && !platform.supportsKernels({gaqmd::CalcGaqForceKernel::Name()}))
      platform.registerKernelFactory(gaqmd::CalcGaqForceKernel::Name(), new gaqmd::cuda::CudaGaqKernelFactory());
  }
}

/// Python's ctypes entry point (tests/gpu/conftest.py): the same registration, by an unambiguous name.
extern "C" OPENMM_EXPORT void gaqmdRegisterCudaKernels() { registerKernelFactories(); }
