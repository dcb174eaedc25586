#pragma once
// Runs the CUDA kernels' per-thread bodies (cuda/include/gaqmd/cuda/) in plain host loops, on the
// data layout the GPU uses, in the order CudaGaqKernels.cpp launches them. What it verifies is
// the arithmetic and the indexing of every kernel; launch geometry and transfers remain for a GPU.

#include <memory>
#include <vector>

#include "HostModel.h"
#include "gaqmd/cuda/Backward.h"
#include "gaqmd/cuda/Neighbors.h"

namespace gaqmd::cuda {

/// OpenMM's posq element (float4 / double4 on the GPU).
template <typename Real>
struct HostReal4 {
  Real x, y, z, w;
};

/// Box in Å from three row vectors: inverse matrix and cell counts (>= 2 r_c high along each
/// vector, else InputError); nullptr: vacuum.
Box makeBox(const double* rows, double cutoff);

/// A system as OpenMM's CUDA platform holds it: posq slot k holds System particle atomIndex[k];
/// forces go to the fixed-point buffer (3 stride) at the same slots.
template <typename Real>
struct SystemView {
  const HostReal4<Real>* posq = nullptr;  // (numAtoms,) nm
  const int* atomIndex = nullptr;         // (numAtoms,)
  int numAtoms = 0, stride = 0;           // stride: OpenMM's paddedNumAtoms
  long long* forceBuffer = nullptr;       // (3 stride) kJ/mol/nm · 2^32
};

template <typename Real>
class Emulator {
 public:
  /// particles (n,): System indices of the ML atoms; species (n,): their model species indices.
  Emulator(const ModelData& data, std::vector<int> particles, std::vector<int> species);

  /// One step: adds forces to system.forceBuffer and returns the energy in kJ/mol. box: rows in Å
  /// or nullptr. energySlots: how many per-thread energy slots to emulate.
  double execute(const SystemView<Real>& system, const double* box, int energySlots = 64);

  /// Capacity of a neighbour row after the last step (grown on overflow).
  int rowCapacity() const { return capacity_; }
  /// Steps rerun because the neighbour search overflowed, since construction.
  int reruns() const { return reruns_; }

 private:
  void buildNeighbours(const Box& box);
  void forward(double* energy, std::vector<double>& slots);
  void backward(const SystemView<Real>& system);

  HostModel model_;
  Params<Real> params_;
  std::vector<Real> values_, scales_;
  std::vector<int> particles_, species_;
  int n_ = 0, capacity_ = 0, cellCapacity_ = 8, reruns_ = 0;
  // edges and geometry
  std::vector<int> inverse_, count_, neighbour_, reverse_, cellCount_, cellAtoms_;
  std::vector<Real> pos_, r_, d_, Y_, basis_, dbasis_, gd_, gY_, frames_, bessel_, dbessel_, env_, denv_;
  int overflow_[2] = {0, 0};  // Edges::overflow
  // per layer: x, xu, w, dw, M, g, out; gradients
  // per layer: x (t = 0..T, x[t + 1] the output of layer t), xu, w, dw, M, g; w4a8 also xq, xuPre
  std::vector<std::vector<Real>> x_, xq_, xuPre_, xu_, w_, dw_, M_, g_;
  std::vector<std::vector<Real>> Q_, Ks_, Z_, Kraw_, expA_, alpha_;  // attention, per layer
  std::vector<Real> atomEnergy_, Gout_, gg_, GM_, Gxu_, GxuPre_, Gxq_, Gx_, gradR_, gQ_, gKraw_, gEnv_;
  Edges<Real> edges();
  EdgeGeometry<Real> geometry();
  LayerBuffers<Real> layer(int t);
  GradBuffers<Real> grads();
};

}  // namespace gaqmd::cuda
