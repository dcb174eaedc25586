#pragma once
// The native engine: energy and analytic forces of a model description (docs/format.md) for one
// configuration. It knows nothing about OpenMM; GaqForce's kernels and the ASE calculator call it.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gaqmd/engine/ModelData.h"

namespace gaqmd {

struct Model;       // validated, decoded parameters (engine-internal)
struct Workspaces;  // per-evaluation buffers and thread pools kept between calls (engine-internal)

/// A debug tensor (row-major); integer: the values are indices (edge lists).
struct Tensor {
  std::vector<int64_t> shape;
  std::vector<double> values;
  bool integer = false;
};

class Engine {
 public:
  /// Validates and decodes the description; throws ModelError naming what is wrong.
  /// radialTablePoints > 0: tabulated radial mode with that many knots (fp32 and w4a32 only; see
  /// docs/format.md, `radial_table_points`); 0: as the description's optional attribute
  /// `radial_table_points` says (absent or 0: the exact radial MLP, the default).
  explicit Engine(const ModelData& data, int radialTablePoints = 0);
  ~Engine();
  Engine(Engine&&) noexcept;
  Engine& operator=(Engine&&) noexcept;

  /// Atomic numbers in the model's species order.
  const std::vector<int>& species() const;
  /// r_c in Å.
  double cutoff() const;
  /// Knots of the tabulated radial mode, 0 in the exact mode.
  int radialTablePoints() const;

  /// positions (n, 3) Å row-major; speciesIndex (n,) indices into species(); box: nullptr for
  /// vacuum, else 9 numbers, the three periodic box vectors as rows, Å (OpenMM's reduced form).
  /// Writes forces (n, 3) eV/Å (overwritten, not accumulated) and returns the energy in eV.
  /// Throws InputError for NaN/inf positions, a species index out of range, or a box with a
  /// height below 2 r_c. threads: worker threads (0: hardware concurrency). Thread-safe: concurrent
  /// calls use separate workspaces; the results do not depend on `threads`.
  double compute(const double* positions, const int* speciesIndex, int n, const double* box,
                 double* forces, int threads = 1) const;

  /// Debug entry (DESIGN §5): the forward and backward intermediates of compute(), by name:
  /// edge_index (2, E) [center, neighbour] in the engine's edge order; per edge basis (E, K),
  /// envelope (E,), sh (E, (l_max+1)²); per layer t, "layer{t}.": x (input), xq (after in_q),
  /// x_up (after up_q), radial (E, P·C), alpha (E,) with attention, messages (n, D_mid)
  /// aggregated, gate_in (n, D_gate), out (n, D_out), grad_x = dE/dx and grad_out = dE/dout;
  /// frames (n, 3, 3) (w4a8 local), atom_energy (n,), energy (), forces (n, 3).
  std::map<std::string, Tensor> intermediates(const double* positions, const int* speciesIndex, int n,
                                              const double* box) const;

 private:
  std::unique_ptr<Model> model_;
  std::unique_ptr<Workspaces> workspaces_;
};

}  // namespace gaqmd
