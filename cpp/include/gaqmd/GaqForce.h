#pragma once
// GaqForce: a gaqmd model (docs/format.md) as an OpenMM Force (DESIGN §5).
//
// The force holds the flat model description, one atomic number per particle of the System, an
// optional ML subset (the particles the model sees; default: all) and a periodic flag. Particles
// outside the subset get no force from it, and their atomic numbers are not checked (0 is fine
// for virtual sites). Validation against the System happens when a Context is created
// (GaqForceImpl::initialize), with OpenMMExceptions that name the particle.

#include <string>
#include <vector>

#include "gaqmd/engine/ModelData.h"
#include "openmm/Force.h"

namespace gaqmd {

class GaqForce : public OpenMM::Force {
 public:
  /// An empty force: no model, no particles (set them before adding it to a Context).
  GaqForce();
  /// A force evaluating `model` (copied).
  explicit GaqForce(ModelData model);

  const ModelData& getModel() const { return model_; }
  void setModel(ModelData model) { model_ = std::move(model); }

  /// One atomic number per particle of the System (index = particle index).
  void setAtomicNumbers(const std::vector<int>& atomicNumbers) { atomicNumbers_ = atomicNumbers; }
  const std::vector<int>& getAtomicNumbers() const { return atomicNumbers_; }
  int getNumParticles() const { return static_cast<int>(atomicNumbers_.size()); }

  /// Indices of the ML particles, in the order the model sees them; empty: every particle.
  void setSubset(const std::vector<int>& particles) { subset_ = particles; }
  const std::vector<int>& getSubset() const { return subset_; }
  bool hasSubset() const { return !subset_.empty(); }
  /// The ML particles: the subset, or 0..getNumParticles()-1 when there is none.
  std::vector<int> getModelParticles() const;

  /// Periodic: the model sees the Context's box vectors (minimum image, box >= 2 r_c).
  void setUsesPeriodicBoundaryConditions(bool periodic) { periodic_ = periodic; }
  bool usesPeriodicBoundaryConditions() const override { return periodic_; }

 protected:
  OpenMM::ForceImpl* createImpl() const override;

 private:
  ModelData model_;
  std::vector<int> atomicNumbers_;
  std::vector<int> subset_;
  bool periodic_ = false;
};

}  // namespace gaqmd
