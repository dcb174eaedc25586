#pragma once
// CalcGaqForce on the host: the Reference platform (one thread) and the CPU platform (the
// platform's "Threads"). Both read positions and write forces through the Reference platform
// data, which the CPU platform shares.

#include <memory>
#include <string>
#include <vector>

#include "gaqmd/GaqKernels.h"
#include "gaqmd/engine/Engine.h"

namespace gaqmd {

class ReferenceCalcGaqForceKernel : public CalcGaqForceKernel {
 public:
  /// threads: worker threads handed to Engine::compute (Reference: 1).
  ReferenceCalcGaqForceKernel(const std::string& name, const OpenMM::Platform& platform, int threads = 1);
  ~ReferenceCalcGaqForceKernel() override;

  /// Builds the engine (ModelError -> OpenMMException) and maps atomic numbers to species indices.
  void initialize(const OpenMM::System& system, const GaqForce& force) override;
  /// Gathers the ML particles (nm -> Å), evaluates the engine, scatters forces (eV/Å ->
  /// kJ/mol/nm); returns kJ/mol. Engine InputErrors come back as OpenMMExceptions.
  double execute(OpenMM::ContextImpl& context, bool includeForces, bool includeEnergy) override;

  int getNumThreads() const { return threads_; }

 private:
  void gatherPositions(const std::vector<OpenMM::Vec3>& positions);
  const double* gatherBox(const OpenMM::Vec3* boxVectors);

  std::unique_ptr<Engine> engine_;
  std::vector<int> particles_;     // (n,) System indices of the ML particles
  std::vector<int> speciesIndex_;  // (n,) indices into engine_->species()
  bool periodic_ = false;
  int threads_ = 1;
  std::vector<double> positions_;  // (n, 3) Å
  std::vector<double> forces_;     // (n, 3) eV/Å
  double box_[9] = {};             // box vectors as rows, Å
};

}  // namespace gaqmd
