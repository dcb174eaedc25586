// validateGaqForce (what GaqForceImpl::initialize checks against the System) and the kernel
// registration. The messages must name the particle and the element.
#include <cstring>
#include <map>
#include <memory>
#include <tuple>
#include <iostream>

#include "GaqKernelFactory.h"
#include "ReferenceGaqKernels.h"
#include "openmm/Context.h"
#include "openmm/VerletIntegrator.h"
#include "gaqmd/GaqKernels.h"
#include "gaqmd/internal/GaqForceImpl.h"
#include "openmm/OpenMMException.h"
#include "openmm/Platform.h"

using namespace gaqmd;

static int failures = 0;

static GaqForce forceWithSpecies(const std::vector<int32_t>& species) {
  Array array;
  array.dtype = DType::Int32;
  array.shape = {int64_t(species.size())};
  array.bytes.resize(species.size() * sizeof(int32_t));
  std::memcpy(array.bytes.data(), species.data(), array.bytes.size());
  ModelData model;
  model.arrays["species"] = array;
  return GaqForce(model);
}

static void expectError(const std::string& what, const GaqForce& force, int numParticles, const std::string& expected) {
  try {
    validateGaqForce(force, numParticles);
    std::cerr << what << ": no exception\n";
    ++failures;
  } catch (const OpenMM::OpenMMException& error) {
    if (std::string(error.what()).find(expected) == std::string::npos) {
      std::cerr << what << ": message '" << error.what() << "' lacks '" << expected << "'\n";
      ++failures;
    }
  }
}

static void expectValid(const std::string& what, const GaqForce& force, int numParticles) {
  try {
    validateGaqForce(force, numParticles);
  } catch (const OpenMM::OpenMMException& error) {
    std::cerr << what << ": unexpected '" << error.what() << "'\n";
    ++failures;
  }
}

static void testValidation() {
  GaqForce force = forceWithSpecies({1, 6, 8});
  force.setAtomicNumbers({8, 1, 1});
  expectValid("water", force, 3);
  expectError("count", force, 4, "3 atomic numbers for a System of 4 particles");
  force.setAtomicNumbers({8, 1, 17});
  expectError("element", force, 3, "particle 2 is Cl (atomic number 17), which the model does not know; it knows H, C, O");
  force.setSubset({0, 1});
  expectValid("element outside the subset", force, 3);
  force.setSubset({0, 3});
  expectError("subset range", force, 3, "subset entry 1 is particle 3, out of range");
  force.setSubset({1, 1});
  expectError("subset repeat", force, 3, "particle 1 appears more than once");
  force.setSubset({-1});
  expectError("subset negative", force, 3, "is particle -1, out of range");
  GaqForce noSpecies{ModelData{}};
  noSpecies.setAtomicNumbers({1});
  expectError("species array", noSpecies, 1, "no 'species' array");
}

static void testRegistration() {
  OpenMM::Platform::loadPluginsFromDirectory(GAQMD_OPENMM_PLUGIN_DIR);
  gaqmd::registerKernelFactories();
  gaqmd::registerKernelFactories();  // idempotent
  std::vector<std::string> names = platformsWithGaqKernels();
  for (const char* name : {"Reference", "CPU"}) {
    bool found = false;
    for (const auto& n : names) found |= n == name;
    if (!found) {
      std::cerr << "no CalcGaqForce kernel on " << name << "\n";
      ++failures;
    }
  }
}

/// Reaches a Context's ContextImpl (Force::getContextImpl), to call the factory as OpenMM does.
struct ContextImplAccess : OpenMM::Force {
  OpenMM::ForceImpl* createImpl() const override { return nullptr; }
  using OpenMM::Force::getContextImpl;
};

/// The CPU kernel runs the engine on the platform's "Threads"; the Reference kernel on one.
static void testKernelThreads() {
  OpenMM::System system;
  system.addParticle(1.0);
  for (auto [platformName, threads, expected] : {std::tuple{"CPU", "3", 3}, std::tuple{"Reference", "", 1}}) {
    OpenMM::VerletIntegrator integrator(0.001);
    std::map<std::string, std::string> properties;
    if (*threads) properties["Threads"] = threads;
    OpenMM::Context context(system, integrator, OpenMM::Platform::getPlatformByName(platformName), properties);
    std::unique_ptr<OpenMM::KernelImpl> kernel(HostGaqKernelFactory().createKernelImpl(
        CalcGaqForceKernel::Name(), context.getPlatform(), ContextImplAccess().getContextImpl(context)));
    int used = dynamic_cast<ReferenceCalcGaqForceKernel&>(*kernel).getNumThreads();
    if (used != expected) {
      std::cerr << platformName << " kernel uses " << used << " threads, expected " << expected << "\n";
      ++failures;
    }
  }
}

int main() {
  testValidation();
  testRegistration();
  testKernelThreads();
  if (failures) std::cerr << failures << " check(s) failed\n";
  else std::cout << "test_openmm_validation: all checks passed\n";
  return failures ? 1 : 0;
}
