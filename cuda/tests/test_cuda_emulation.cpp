// The CUDA kernels' per-thread bodies, run by the host emulation (cuda/src/Emulator.cpp) on the
// GPU's data layout, against gaqmd::Engine::compute: double precision to round-off (energy 1e-10
// relative, forces 1e-8 relative RMS) for fp32, w4a32 and every w4a8 quantizer kind (MDDQ in local
// and global frames, linear and log magnitudes, MDDQ-fp16, int8, fp16, the naive baseline), float
// within single-precision error; OpenMM's atom reordering, an ML subset, fixed-point forces, vacuum
// and triclinic periodic cells with 2 and 3 cells per axis. Usage: test_cuda_emulation FIXTURE_DIR (cuda/tests/make_fixtures.py writes it).

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <map>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "../src/Emulator.h"
#include "GaqForceProxy.h"
#include "gaqmd/engine/Engine.h"
#include "gaqmd/internal/Units.h"

using namespace gaqmd;
using namespace gaqmd::cuda;

namespace {

#define REQUIRE(cond)                                                  \
  do {                                                                 \
    if (!(cond)) {                                                     \
      std::printf("FAILED %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      std::exit(1);                                                    \
    }                                                                  \
  } while (0)

std::string fixtures;

struct Geometry {
  std::vector<int> numbers;
  std::vector<double> positions;  // (n, 3) Å
  std::vector<double> box;        // 9 numbers (rows, Å), empty in vacuum
};

Geometry readGeometry(const std::string& name) {
  std::ifstream in(fixtures + "/" + name);
  REQUIRE(in.good());
  Geometry g;
  int n = 0, periodic = 0;
  in >> n >> periodic;
  std::vector<double> box(9);
  for (double& v : box) in >> v;
  if (periodic) g.box = box;
  g.numbers.resize(n), g.positions.resize(3 * n);
  for (int i = 0; i < n; ++i) in >> g.numbers[i] >> g.positions[3 * i] >> g.positions[3 * i + 1] >> g.positions[3 * i + 2];
  REQUIRE(in.good());
  return g;
}

ModelData readModel(const std::string& name) {
  std::ifstream in(fixtures + "/" + name);
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  return gaqForceFromXml(text.str())->getModel();
}

struct Result {
  double energy;               // eV
  std::vector<double> forces;  // (n, 3) eV/Å
  int reruns = 0;              // steps rerun after the neighbour search overflowed
};

/// The geometry as an OpenMM System would hold it: `extra` non-ML particles interleaved, the ML
/// atoms at shuffled System indices, posq slots permuted (atomIndex), positions in nm.
template <typename Real>
Result emulate(const ModelData& model, const Geometry& g, std::vector<double>* enginePositions, int extra = 7) {
  const int n = static_cast<int>(g.numbers.size()), numAtoms = n + extra, stride = numAtoms + 3;
  std::mt19937 rng(12345);
  std::vector<int> systemIndex(numAtoms);  // ML atom i -> particles[i]
  std::iota(systemIndex.begin(), systemIndex.end(), 0);
  std::shuffle(systemIndex.begin(), systemIndex.end(), rng);
  std::vector<int> particles(systemIndex.begin(), systemIndex.begin() + n);
  std::vector<int> atomIndex(numAtoms);  // posq slot k holds System particle atomIndex[k]
  std::iota(atomIndex.begin(), atomIndex.end(), 0);
  std::shuffle(atomIndex.begin(), atomIndex.end(), rng);
  std::vector<int> slotOf(numAtoms);
  for (int k = 0; k < numAtoms; ++k) slotOf[atomIndex[k]] = k;

  const Engine engine(model);
  std::map<int, int> speciesOf;
  for (size_t s = 0; s < engine.species().size(); ++s) speciesOf[engine.species()[s]] = static_cast<int>(s);
  std::vector<int> species(n);
  for (int i = 0; i < n; ++i) species[i] = speciesOf.at(g.numbers[i]);

  std::vector<HostReal4<Real>> posq(numAtoms, HostReal4<Real>{Real(99), Real(99), Real(99), Real(0)});
  enginePositions->assign(3 * n, 0.0);
  for (int i = 0; i < n; ++i) {
    HostReal4<Real>& p = posq[slotOf[particles[i]]];
    p.x = static_cast<Real>(g.positions[3 * i] / units::kAngstromPerNm);
    p.y = static_cast<Real>(g.positions[3 * i + 1] / units::kAngstromPerNm);
    p.z = static_cast<Real>(g.positions[3 * i + 2] / units::kAngstromPerNm);
    const Real nm[3] = {p.x, p.y, p.z};
    for (int a = 0; a < 3; ++a) (*enginePositions)[3 * i + a] = static_cast<Real>(nm[a] * units::kAngstromPerNm);
  }
  std::vector<long long> forceBuffer(3 * stride, 0);
  Emulator<Real> emulator(model, particles, species);
  const SystemView<Real> system{posq.data(), atomIndex.data(), numAtoms, stride, forceBuffer.data()};
  const double kj = emulator.execute(system, g.box.empty() ? nullptr : g.box.data());

  Result result{kj / units::kKjPerMolPerEv, std::vector<double>(3 * n), emulator.reruns()};
  std::vector<char> ml(numAtoms, 0);
  for (int i = 0; i < n; ++i) {
    ml[particles[i]] = 1;
    for (int a = 0; a < 3; ++a)
      result.forces[3 * i + a] = static_cast<double>(forceBuffer[slotOf[particles[i]] + a * stride]) / 4294967296.0 /
                                 units::kKjPerMolNmPerEvAngstrom;
  }
  for (int p = 0; p < numAtoms; ++p)  // particles outside the ML subset get no force
    if (!ml[p])
      for (int a = 0; a < 3; ++a) REQUIRE(forceBuffer[slotOf[p] + a * stride] == 0);
  return result;
}

Result reference(const ModelData& model, const Geometry& g, const std::vector<double>& positions) {
  const Engine engine(model);
  std::map<int, int> speciesOf;
  for (size_t s = 0; s < engine.species().size(); ++s) speciesOf[engine.species()[s]] = static_cast<int>(s);
  const int n = static_cast<int>(g.numbers.size());
  std::vector<int> species(n);
  for (int i = 0; i < n; ++i) species[i] = speciesOf.at(g.numbers[i]);
  Result r{0.0, std::vector<double>(3 * n)};
  r.energy = engine.compute(positions.data(), species.data(), n, g.box.empty() ? nullptr : g.box.data(), r.forces.data());
  return r;
}

double rmsRelative(const std::vector<double>& a, const std::vector<double>& b) {
  double diff = 0, norm = 0;
  for (size_t k = 0; k < a.size(); ++k) diff += (a[k] - b[k]) * (a[k] - b[k]), norm += b[k] * b[k];
  return std::sqrt(diff / norm);
}

/// Compares the emulation in Real with the engine; returns (energy rel. error, force rel. RMS error).
template <typename Real>
std::pair<double, double> compare(const std::string& modelName, const std::string& geometryName) {
  const ModelData model = readModel(modelName);
  const Geometry g = readGeometry(geometryName);
  std::vector<double> positions;
  const Result ours = emulate<Real>(model, g, &positions);
  const Result ref = reference(model, g, positions);
  const double eErr = std::fabs(ours.energy - ref.energy) / std::fabs(ref.energy);
  const double fErr = rmsRelative(ours.forces, ref.forces);
  std::printf("%-7s %-22s %-15s E = %.10f eV  |dE|/|E| = %.2e  force rel. RMS = %.2e  reruns %d\n",
              sizeof(Real) == 8 ? "double" : "float", modelName.c_str(), geometryName.c_str(), ref.energy, eErr, fErr,
              ours.reruns);
  // The periodic cells are denser than the first row capacity (32): the overflow path must have run.
  REQUIRE(g.box.empty() || ours.reruns > 0);
  return {eErr, fErr};
}

void checkDouble(const std::string& modelName, const std::string& geometryName) {
  const auto [eErr, fErr] = compare<double>(modelName, geometryName);
  REQUIRE(eErr < 1e-10);
  REQUIRE(fErr < 1e-8);
}

void checkFloat(const std::string& modelName, const std::string& geometryName) {
  const auto [eErr, fErr] = compare<float>(modelName, geometryName);
  REQUIRE(eErr < 1e-5);
  REQUIRE(fErr < 1e-3);
}

/// The cell-table codebook lookup of the kernels equals the brute-force scan: random directions,
/// directions a hair off every cell boundary, the codebook points and midpoints of point pairs.
void checkCodebookCells(const std::string& modelName) {
  const HostModel model = buildHostModel(readModel(modelName));
  const Params<double> table =
      model.view<double>(model.values.data(), model.ints.data(), model.codes.data(), model.scales.data(),
                         model.layers.data());
  Params<double> brute = table;
  brute.codebookNZ = 0;
  REQUIRE(table.codebookNZ > 0 && table.codebookSize > 0);
  std::mt19937 rng(7);
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  std::vector<std::array<double, 3>> directions;
  for (int k = 0; k < 20000; ++k) directions.push_back({normal(rng), normal(rng), normal(rng)});
  const double pi = 3.141592653589793;
  for (int k = 0; k < 4000; ++k) {  // on row and column boundaries, nudged by ±1e-13
    const int row = k % (table.codebookNZ + 1), column = k % (table.codebookNPhi + 1);
    const double nudge = (k % 2 ? 1e-13 : -1e-13);
    double z = -1.0 + 2.0 * row / table.codebookNZ + nudge, phi = -pi + 2 * pi * column / table.codebookNPhi + nudge;
    if (k % 3 == 0) z = uniform(rng);
    if (k % 3 == 1) phi = pi * uniform(rng);
    z = std::max(-1.0, std::min(1.0, z));
    const double r = std::sqrt(1 - z * z);
    directions.push_back({r * std::cos(phi), r * std::sin(phi), z});
  }
  for (int k = 0; k + 1 < table.codebookSize && k < 4000; k += 1) {
    const double* p = &model.values[table.codebook + 3 * k];
    const double* q = &model.values[table.codebook + 3 * (k + 1)];
    directions.push_back({p[0], p[1], p[2]});
    directions.push_back({p[0] + q[0], p[1] + q[1], p[2] + q[2]});
  }
  int mismatches = 0;
  for (auto& u : directions) {
    const double norm = std::sqrt((u[0] * u[0] + u[1] * u[1]) + u[2] * u[2]);
    for (double& c : u) c /= norm;
    mismatches += nearestCodeword(table, u.data()) != nearestCodeword(brute, u.data());
  }
  const int cells = table.codebookNZ * table.codebookNPhi;
  std::printf("codebook of %d points, %d cells, %.1f candidates per cell: %zu directions, %d mismatches\n",
              table.codebookSize, cells, double(model.ints.size() - cells - 1) / cells, directions.size(), mismatches);
  REQUIRE(mismatches == 0);
}

}  // namespace

int main(int argc, char** argv) {
  REQUIRE(argc == 2);
  fixtures = argv[1];
  registerSerializationProxies();
  checkCodebookCells("w4a8_l1.gaq");
  for (const char* model : {"fp32_l1.gaq", "fp32_l2.gaq", "w4a32_l2_grouped.gaq"})
    for (const char* geometry : {"aspirin.txt", "cell_small.txt", "cell_large.txt"}) checkDouble(model, geometry);
  for (const char* geometry : {"aspirin.txt", "cell_large.txt"}) {
    checkFloat("fp32_l2.gaq", geometry);
    checkFloat("w4a32_l2_grouped.gaq", geometry);
  }
  for (const char* model : {"w4a8_l1.gaq", "w4a8_l2_mddqfp16_global_log.gaq", "w4a8_l2_int8.gaq", "w4a8_l2_fp16.gaq",
                            "w4a8_l2_int8_local.gaq", "w4a8_l2_mddqfp16_local_global_dirs.gaq", "w4a8_naive.gaq",
                            "fp32_l2_attention.gaq", "w4a8_attention_log.gaq", "w4a8_attention_float_basis.gaq",
                            "w4a8_attention_unclipped.gaq", "w4a8_l2_int8_local_float_basis_unclipped.gaq"})
    for (const char* geometry : {"aspirin.txt", "cell_small.txt"}) checkDouble(model, geometry);
  // In float, a quantizer decision near a rounding boundary or a codebook tie can flip: looser bounds.
  checkFloat("fp32_l2_attention.gaq", "cell_small.txt");
  for (const char* model : {"w4a8_l1.gaq", "w4a8_naive.gaq", "w4a8_l2_mddqfp16_global_log.gaq", "w4a8_attention_log.gaq",
                            "w4a8_attention_float_basis.gaq", "w4a8_attention_unclipped.gaq"})
    for (const char* geometry : {"aspirin.txt", "cell_small.txt"}) {
      const auto [eErr, fErr] = compare<float>(model, geometry);
      REQUIRE(eErr < 1e-4);
      REQUIRE(fErr < 1e-2);
    }
  std::printf("test_cuda_emulation: all checks passed\n");
  return 0;
}
