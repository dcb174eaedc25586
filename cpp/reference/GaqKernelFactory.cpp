// Kernel factory for the Reference and CPU platforms.
#include "GaqKernelFactory.h"

#include <mutex>
#include <set>

#include "ReferenceGaqKernels.h"
#include "openmm/OpenMMException.h"
#include "openmm/Platform.h"
#include "openmm/reference/ReferencePlatform.h"

namespace gaqmd {

using OpenMM::Platform;

/// The CPU platform keeps its thread pool (sized by its "Threads" property) in the Reference
/// platform data that it shares; the Reference platform evaluates on one thread.
static int hostThreads(const Platform& platform, OpenMM::ContextImpl& context) {
  if (platform.getName() != "CPU") return 1;
  auto* data = static_cast<OpenMM::ReferencePlatform::PlatformData*>(context.getPlatformData());
  return data == nullptr ? 1 : data->threads.getNumThreads();
}

OpenMM::KernelImpl* HostGaqKernelFactory::createKernelImpl(std::string name, const Platform& platform,
                                                           OpenMM::ContextImpl& context) const {
  if (name == CalcGaqForceKernel::Name())
    return new ReferenceCalcGaqForceKernel(name, platform, hostThreads(platform, context));
  throw OpenMM::OpenMMException("gaqmd: no kernel named '" + name + "' on " + platform.getName());
}

void registerKernelFactories() {
  static std::mutex mutex;
  static std::set<const Platform*> registered;  // a platform loaded later is registered next call
  std::lock_guard<std::mutex> lock(mutex);
  for (int i = 0; i < Platform::getNumPlatforms(); ++i) {
    Platform& platform = Platform::getPlatform(i);
    bool host = platform.getName() == "Reference" || platform.getName() == "CPU";
    if (host && registered.insert(&platform).second)
      platform.registerKernelFactory(CalcGaqForceKernel::Name(), new HostGaqKernelFactory());
  }
}

std::vector<std::string> platformsWithGaqKernels() {
  std::vector<std::string> names;
  for (int i = 0; i < Platform::getNumPlatforms(); ++i) {
    Platform& platform = Platform::getPlatform(i);
    if (platform.supportsKernels({CalcGaqForceKernel::Name()})) names.push_back(platform.getName());
  }
  return names;
}

}  // namespace gaqmd

extern "C" void registerKernelFactories() { gaqmd::registerKernelFactories(); }
