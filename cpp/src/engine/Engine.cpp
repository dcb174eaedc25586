// Engine: validation of inputs, neighbour list, forward and backward passes, debug intermediates.

#include "gaqmd/engine/Engine.h"

#include <algorithm>
#include <thread>

#include "gaqmd/engine/Model.h"
#include "gaqmd/engine/State.h"
#include "gaqmd/math/sph.h"

namespace gaqmd {
namespace {

void checkSpecies(const int* speciesIndex, int n, int numSpecies) {
  for (int i = 0; i < n; ++i)
    if (speciesIndex[i] < 0 || speciesIndex[i] >= numSpecies)
      throw InputError("species index " + std::to_string(speciesIndex[i]) + " of atom " + std::to_string(i) +
                       " is outside 0.." + std::to_string(numSpecies - 1) + " (the model has " +
                       std::to_string(numSpecies) + " species)");
}

int resolveThreads(int threads) {
  if (threads > 0) return threads;
  return std::max(1u, std::thread::hardware_concurrency());
}

Tensor tensor(std::vector<int64_t> shape, std::vector<double> values) {
  return Tensor{std::move(shape), std::move(values), false};
}

/// Per-pair rows (P, width) -> per-edge rows (E, width), times sign^l for spherical harmonics.
std::vector<double> perEdge(const NeighborList& nl, const std::vector<double>& rows, int width, bool sh) {
  std::vector<double> out(static_cast<size_t>(nl.numEdges()) * width);
  for (int e = 0; e < nl.numEdges(); ++e)
    for (int k = 0; k < width; ++k) {
      const double parity = (sh && k >= 1 && k < 4) ? nl.sign[e] : 1.0;
      out[static_cast<size_t>(e) * width + k] = parity * rows[static_cast<size_t>(nl.pair[e]) * width + k];
    }
  return out;
}

std::unique_ptr<Model> checkedDecode(const ModelData& data) {
  if (!kernelIsaSupported())
    throw ModelError(std::string("this build of the gaqmd engine uses ") + kernelIsa() +
                     " instructions, which this CPU lacks; rebuild with -DGAQMD_ENGINE_AVX2=OFF");
  return decodeModel(data);
}

}  // namespace

Engine::Engine(const ModelData& data) : model_(checkedDecode(data)) {}
Engine::~Engine() = default;
Engine::Engine(Engine&&) noexcept = default;
Engine& Engine::operator=(Engine&&) noexcept = default;

const std::vector<int>& Engine::species() const { return model_->species; }
double Engine::cutoff() const { return model_->cutoff; }

double Engine::compute(const double* positions, const int* speciesIndex, int n, const double* box, double* forces,
                       int threads) const {
  if (n < 0) throw InputError("negative number of atoms");
  checkSpecies(speciesIndex, n, static_cast<int>(model_->species.size()));
  checkGeometry(positions, n, box, model_->cutoff);
  const NeighborList list = buildNeighborList(positions, n, box, model_->cutoff);
  State s;
  s.n = n;
  s.list = &list;
  s.species = speciesIndex;
  threads = resolveThreads(threads);
  const double energy = forward(*model_, s, threads);
  backward(*model_, s, forces, threads);
  return energy;
}

std::map<std::string, Tensor> Engine::intermediates(const double* positions, const int* speciesIndex, int n,
                                                    const double* box) const {
  const Model& m = *model_;
  checkSpecies(speciesIndex, n, static_cast<int>(m.species.size()));
  checkGeometry(positions, n, box, m.cutoff);
  const NeighborList nl = buildNeighborList(positions, n, box, m.cutoff);
  State s;
  s.n = n;
  s.list = &nl;
  s.species = speciesIndex;
  std::vector<double> forces(3 * n);
  const double energy = forward(m, s, 1);
  backward(m, s, forces.data(), 1);

  const int64_t E = nl.numEdges(), K = m.numBasis, N = n, dimY = math::shDim(m.lMax);
  std::map<std::string, Tensor> out;
  std::vector<double> edges(2 * E);
  for (int i = 0; i < n; ++i)
    for (int e = nl.start[i]; e < nl.start[i + 1]; ++e) edges[e] = i, edges[E + e] = nl.neighbour[e];
  out["edge_index"] = Tensor{{2, E}, edges, true};
  out["basis"] = tensor({E, K}, perEdge(nl, s.basis, K, false));
  out["envelope"] = tensor({E}, perEdge(nl, s.env, 1, false));
  out["sh"] = tensor({E, dimY}, perEdge(nl, s.Y, dimY, true));
  for (size_t t = 0; t < m.layers.size(); ++t) {
    const Layer& L = m.layers[t];
    const LayerState& ls = s.layers[t];
    const std::string p = "layer" + std::to_string(t) + ".";
    const int64_t W = L.radial[2].rows;
    std::vector<double> radial(static_cast<size_t>(nl.numPairs()) * W);  // unpadded (P, PC)
    for (int q = 0; q < nl.numPairs(); ++q)
      for (int k = 0; k < W; ++k)
        radial[static_cast<size_t>(q) * W + k] = ls.w[static_cast<size_t>(q) * L.Wp + (k / m.channels) * m.Cp + k % m.channels];
    out[p + "x"] = tensor({N, L.in.dim}, ls.x);
    out[p + "xq"] = tensor({N, L.in.dim}, ls.xq);
    out[p + "x_up"] = tensor({N, L.in.dim}, ls.xu);
    out[p + "radial"] = tensor({E, W}, perEdge(nl, radial, static_cast<int>(W), false));
    if (L.attention) out[p + "alpha"] = tensor({E}, ls.alpha);
    out[p + "messages"] = tensor({N, L.mid.dim}, ls.M);
    out[p + "gate_in"] = tensor({N, L.gate.dim}, ls.g);
    out[p + "out"] = tensor({N, L.out.dim}, ls.out);
    out[p + "grad_x"] = tensor({N, L.in.dim}, s.gradIn[t]);
    out[p + "grad_out"] = tensor({N, L.out.dim}, s.gradOut[t]);
  }
  if (!s.frames.empty()) out["frames"] = tensor({N, 3, 3}, s.frames);
  out["atom_energy"] = tensor({N}, s.atomEnergy);
  out["energy"] = tensor({}, {energy});
  out["forces"] = tensor({N, 3}, forces);
  return out;
}

}  // namespace gaqmd
