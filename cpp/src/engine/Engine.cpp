// Engine: validation of inputs, neighbour list, forward and backward passes, debug intermediates.

#include "gaqmd/engine/Engine.h"

#include <algorithm>
#include <mutex>
#include <thread>

#include "gaqmd/engine/Model.h"
#include "gaqmd/engine/Parallel.h"
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

std::unique_ptr<Model> checkedDecode(const ModelData& data, int radialTablePoints) {
  if (!kernelIsaSupported())
    throw ModelError(std::string("this build of the gaqmd engine uses ") + kernelIsa() +
                     " instructions, which this CPU lacks; rebuild with -DGAQMD_ENGINE_AVX512=OFF (and "
                     "-DGAQMD_ENGINE_AVX2=OFF where AVX2/FMA are missing too)");
  std::unique_ptr<Model> m = decodeModel(data);
  if (radialTablePoints < 0) throw ModelError("radial table points must be >= 0 (0: as the description says)");
  int points = radialTablePoints;
  if (points == 0 && data.hasAttribute("radial_table_points")) {
    const std::string& text = data.attribute("radial_table_points");
    size_t used = 0;
    long value = -1;
    try {
      value = std::stol(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != text.size() || value < 0 || value > (1L << 20))
      throw ModelError("model attribute 'radial_table_points' = '" + text +
                       "' is not an integer in 0..1048576 (0: exact radial MLP)");
    points = static_cast<int>(value);
  }
  if (points > 0) tabulateRadial(*m, points);
  return m;
}

}  // namespace

/// Buffers of one evaluation at a time, reused so that repeated evaluations (MD steps) allocate
/// nothing, and the thread pool its loops run on.
struct Workspace {
  NeighborList list;
  State state;
  std::unique_ptr<ThreadPool> pool;
};

struct Workspaces {
  std::mutex mutex;
  std::vector<std::unique_ptr<Workspace>> idle;

  std::unique_ptr<Workspace> acquire() {
    std::lock_guard<std::mutex> lock(mutex);
    if (idle.empty()) return std::make_unique<Workspace>();
    std::unique_ptr<Workspace> w = std::move(idle.back());
    idle.pop_back();
    return w;
  }
  void release(std::unique_ptr<Workspace> w) {
    std::lock_guard<std::mutex> lock(mutex);
    idle.push_back(std::move(w));
  }
};

Engine::Engine(const ModelData& data, int radialTablePoints)
    : model_(checkedDecode(data, radialTablePoints)), workspaces_(std::make_unique<Workspaces>()) {}
Engine::~Engine() = default;
Engine::Engine(Engine&&) noexcept = default;
Engine& Engine::operator=(Engine&&) noexcept = default;

const std::vector<int>& Engine::species() const { return model_->species; }
double Engine::cutoff() const { return model_->cutoff; }
int Engine::radialTablePoints() const { return model_->tablePoints; }

double Engine::compute(const double* positions, const int* speciesIndex, int n, const double* box, double* forces,
                       int threads) const {
  if (n < 0) throw InputError("negative number of atoms");
  checkSpecies(speciesIndex, n, static_cast<int>(model_->species.size()));
  checkGeometry(positions, n, box, model_->cutoff);
  threads = resolveThreads(threads);
  struct Lease {  // returns the workspace on every exit
    Workspaces& owner;
    std::unique_ptr<Workspace> w;
    ~Lease() { owner.release(std::move(w)); }
  } lease{*workspaces_, workspaces_->acquire()};
  Workspace& w = *lease.w;
  if (threads > 1 && (!w.pool || w.pool->size() != threads)) w.pool = std::make_unique<ThreadPool>(threads);
  PoolScope scope(threads > 1 ? w.pool.get() : nullptr);
  buildNeighborList(positions, n, box, model_->cutoff, w.list, threads);
  State& s = w.state;
  s.n = n;
  s.list = &w.list;
  s.species = speciesIndex;
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
