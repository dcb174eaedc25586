// CalcGaqForce on CUDA: uploads the flattened model, compiles cuda/kernels/gaqKernels.cu for the
// model's sizes and the context's precision, and queues the pipeline of docs/cuda.md per step,
// in the order the host emulation (Emulator.cpp) runs the same per-thread functions.

#include "CudaGaqKernels.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "ComputeForceInfo.h"
#include "ContextSelector.h"
#include "Emulator.h"  // makeBox
#include "gaqmd/internal/Units.h"
#include "openmm/OpenMMException.h"
#include "openmm/internal/ContextImpl.h"

namespace gaqmd::cuda {
namespace {

using OpenMM::CudaArray;
using OpenMM::CudaContext;
using OpenMM::OpenMMException;

void checkCuda(CUresult result, const char* what) {
  if (result != CUDA_SUCCESS)
    throw OpenMMException(std::string("GaqForce (CUDA): ") + what + ": " + CudaContext::getErrorString(result));
}

/// Particles are interchangeable for OpenMM's reordering only when both are outside the ML region,
/// or both inside it with the same species (the model is invariant under permuting equal atoms).
class GaqForceInfo : public OpenMM::ComputeForceInfo {
 public:
  explicit GaqForceInfo(const GaqForce& force) : species_(force.getNumParticles(), -1) {
    for (int p : force.getModelParticles()) species_[p] = force.getAtomicNumbers()[p];
  }
  bool areParticlesIdentical(int a, int b) override { return species_[a] == species_[b]; }

 private:
  std::vector<int> species_;  // atomic number of ML particles, -1 for the others
};

/// Vacuum systems up to this many ML atoms get full rows (n - 1 slots; per-edge buffers grow as n²).
constexpr int kFullRowsUpTo = 256;

/// A device array of `count` elements of T (at least one, so that every pointer is valid).
template <typename T>
void allocate(CudaContext& cu, CudaArray& array, size_t count, const std::string& name) {
  count = std::max<size_t>(count, 1);
  if (!array.isInitialized()) array.initialize<T>(cu, count, name);
  else if (array.getSize() < count) array.resize(count);
}

template <typename T>
T* devicePointer(CudaArray& array) {
  return reinterpret_cast<T*>(array.getDevicePointer());
}

/// The pipeline in precision Real (float for single and mixed, double for double).
template <typename Real>
class Pipeline : public CudaPipeline {
 public:
  Pipeline(CudaContext& cu, HostModel model, const std::vector<int>& particles, const std::vector<int>& species,
           bool periodic)
      : cu_(cu), model_(std::move(model)), n_(static_cast<int>(particles.size())), periodic_(periodic) {
    compile();
    checkLayout();
    uploadModel();
    particles_.initialize<int>(cu_, particles.size(), "gaqParticles");
    particles_.upload(particles);
    species_.initialize<int>(cu_, species.size(), "gaqSpecies");
    species_.upload(species);
    allocate<int>(cu_, inverse_, cu_.getPaddedNumAtoms(), "gaqInverseAtomIndex");
    allocate<Real>(cu_, pos_, 3 * static_cast<size_t>(n_), "gaqPositions");
    allocate<int>(cu_, count_, n_, "gaqRowCount");
    allocate<int>(cu_, overflow_, 2, "gaqOverflow");
    allocateNodeBuffers();
    // Small molecules in vacuum get rows of n - 1 slots, which cannot overflow: no host
    // synchronization at all. Larger or periodic systems start at 48 and grow on overflow.
    capacity_ = (periodic_ || n_ > kFullRowsUpTo) ? 48 : std::max(1, n_ - 1);
    allocateRows();
    checkCuda(cuMemHostAlloc(reinterpret_cast<void**>(&hostOverflow_), 2 * sizeof(int), 0), "pinned memory");
    checkCuda(cuEventCreate(&overflowEvent_, CU_EVENT_DISABLE_TIMING), "event");
  }
  ~Pipeline() override {
    if (hostOverflow_) cuMemFreeHost(hostOverflow_);
    if (overflowEvent_) cuEventDestroy(overflowEvent_);
  }

  void execute(OpenMM::ContextImpl&, bool includeForces, bool includeEnergy) override {
    const Box box = currentBox();
    for (;;) {
      const bool mayOverflow = periodic_ || capacity_ < n_ - 1;
      queueSearch(box);
      if (mayOverflow) {
        checkCuda(cuMemcpyDtoHAsync(hostOverflow_, overflow_.getDevicePointer(), 2 * sizeof(int), cu_.getCurrentStream()),
                  "overflow download");
        checkCuda(cuEventRecord(overflowEvent_, cu_.getCurrentStream()), "event record");
      }
      queueForward(includeEnergy);
      if (includeForces) queueBackward();
      if (!mayOverflow) return;
      // Waits for this step's neighbour search only; the rest of the step is already queued.
      checkCuda(cuEventSynchronize(overflowEvent_), "event wait");
      if (hostOverflow_[0] == 0 && hostOverflow_[1] == 0) return;
      if (hostOverflow_[0] > 0) capacity_ = hostOverflow_[0] + hostOverflow_[0] / 4 + 1, allocateRows();
      if (hostOverflow_[1] > 0) cellCapacity_ = hostOverflow_[1] + hostOverflow_[1] / 4 + 1, allocateCells();
    }
  }

 private:
  // ---- setup ----
  void compile() {
    std::map<std::string, std::string> defines;
    const bool doublePrecision = sizeof(Real) == sizeof(double);
    defines["GAQ_REAL"] = doublePrecision ? "double" : "float";
    defines["GAQ_POSQ"] = doublePrecision ? "double4" : "float4";
    defines["GAQ_MIXED"] = (cu_.getUseDoublePrecision() || cu_.getUseMixedPrecision()) ? "double" : "float";
    for (const auto& [name, value] : kernelDefines(model_)) defines[name] = value;
    CUmodule module = cu_.createModule(kernelSource(), defines);
    for (const char* name :
         {"gaqLayoutSizes", "gaqInvertAtomIndex", "gaqGatherPositions", "gaqClearInts", "gaqBinAtoms",
          "gaqBuildRowsAllPairs", "gaqBuildRowsCells", "gaqFindReverse", "gaqEdgeGeometry", "gaqLocalFrames",
          "gaqQuantizeFeatures", "gaqQuantizeFeaturesBackward", "gaqEmbed", "gaqLinearUp",
          "gaqRadialWeights", "gaqAggregateMessages", "gaqGateInput", "gaqGateOutput", "gaqAtomEnergy", "gaqAddEnergy",
          "gaqReadoutGradient", "gaqGateGradient", "gaqMessageGradient", "gaqUpGradient", "gaqEdgeGradient",
          "gaqInputGradient", "gaqEdgeForce", "gaqAtomForce", "gaqAttentionNode", "gaqAttentionEdge",
          "gaqAttentionNormalize", "gaqAttentionGradient"})
      kernels_[name] = cu_.getKernel(module, name);
  }

  /// The host uploads LayerRef as bytes and passes Params by value: both compilers must agree on
  /// their layout (one synchronous check at setup).
  void checkLayout() {
    CudaArray sizes;
    sizes.initialize<int>(cu_, 3, "gaqLayoutSizes");
    launch("gaqLayoutSizes", 1, sizes.getDevicePointer());
    std::vector<int> device;
    sizes.download(device);
    const int host[3] = {static_cast<int>(sizeof(LayerRef)), static_cast<int>(sizeof(MatrixRef)),
                         static_cast<int>(sizeof(Params<Real>))};
    for (int k = 0; k < 3; ++k)
      if (device[k] != host[k])
        throw OpenMMException("GaqForce (CUDA): the device compiler lays out the model structs differently (" +
                              std::to_string(device[k]) + " vs " + std::to_string(host[k]) + " bytes)");
  }

  void uploadModel() {
    const std::vector<Real> values(model_.values.begin(), model_.values.end());
    const std::vector<Real> scales(model_.scales.begin(), model_.scales.end());
    allocate<Real>(cu_, values_, values.size(), "gaqValues");
    values_.upload(values.data());
    allocate<Real>(cu_, scales_, scales.size(), "gaqScales");
    if (!scales.empty()) scales_.upload(scales.data());
    allocate<int>(cu_, ints_, model_.ints.size(), "gaqInts");
    if (!model_.ints.empty()) ints_.upload(model_.ints.data());
    codes_.initialize(cu_, std::max<size_t>(model_.codes.size(), 1), 1, "gaqCodes");
    if (!model_.codes.empty()) codes_.upload(model_.codes.data());
    layers_.initialize(cu_, model_.layers.size(), sizeof(LayerRef), "gaqLayers");
    layers_.upload(model_.layers.data());
    params_ = model_.template view<Real>(devicePointer<Real>(values_), devicePointer<int>(ints_),
                                         devicePointer<uint8_t>(codes_), devicePointer<Real>(scales_),
                                         devicePointer<LayerRef>(layers_));
  }

  void allocateNodeBuffers() {
    const int T = model_.header.numLayers;
    const bool quantized = model_.header.quantized != 0;
    // Sized once, never copied (CudaArray owns device memory).
    x_.resize(T + 1), xq_.resize(T), xuPre_.resize(T), xu_.resize(T), M_.resize(T), g_.resize(T), w_.resize(T),
        dw_.resize(T), Q_.resize(T), Ks_.resize(T), Z_.resize(T), Kraw_.resize(T), expA_.resize(T), alpha_.resize(T);
    allocate<Real>(cu_, x_[0], static_cast<size_t>(n_) * model_.header.channels, "gaqX0");
    for (int t = 0; t < T; ++t) {
      const LayerRef& L = model_.layers[t];
      allocate<Real>(cu_, xu_[t], static_cast<size_t>(n_) * L.in.dim, "gaqXu");
      if (L.attention) {
        allocate<Real>(cu_, Q_[t], static_cast<size_t>(n_) * L.query.rows, "gaqAttentionQ");
        allocate<Real>(cu_, Ks_[t], static_cast<size_t>(n_) * L.query.rows, "gaqAttentionKs");
        allocate<Real>(cu_, Z_[t], n_, "gaqAttentionZ");
      }
      if (quantized) {
        allocate<Real>(cu_, xq_[t], static_cast<size_t>(n_) * L.in.dim, "gaqXq");
        allocate<Real>(cu_, xuPre_[t], static_cast<size_t>(n_) * L.in.dim, "gaqXuPre");
      }
      allocate<Real>(cu_, M_[t], static_cast<size_t>(n_) * L.mid.dim, "gaqM");
      allocate<Real>(cu_, g_[t], static_cast<size_t>(n_) * L.gate.dim, "gaqG");
      allocate<Real>(cu_, x_[t + 1], static_cast<size_t>(n_) * L.out.dim, "gaqX");
    }
    const size_t D = static_cast<size_t>(n_) * model_.maxFeatureDim;
    for (CudaArray* a : {&Gout_, &gg_, &GM_, &Gxu_, &Gx_}) allocate<Real>(cu_, *a, D, "gaqGrad");
    if (quantized) {
      allocate<Real>(cu_, GxuPre_, D, "gaqGradXuPre");
      allocate<Real>(cu_, Gxq_, D, "gaqGradXq");
    }
    allocate<Real>(cu_, frames_, 9 * static_cast<size_t>(n_), "gaqFrames");
    allocate<Real>(cu_, gQ_, static_cast<size_t>(n_) * std::max(1, model_.maxAttention), "gaqGradQ");
    allocate<Real>(cu_, atomEnergy_, n_, "gaqAtomEnergy");
  }

  /// Per-edge-slot buffers for n rows of capacity_ slots.
  void allocateRows() {
    const size_t E = static_cast<size_t>(n_) * capacity_;
    const Params<double>& h = model_.header;
    // The kernels index per-edge arrays with 32-bit ints.
    const size_t widest = std::max({static_cast<size_t>(model_.maxRadialWidth), static_cast<size_t>(model_.maxAttention),
                                    static_cast<size_t>(h.numBasis), static_cast<size_t>(h.shDim)});
    if (E * widest > static_cast<size_t>(std::numeric_limits<int>::max()))
      throw OpenMMException("GaqForce (CUDA): " + std::to_string(n_) + " ML atoms with " + std::to_string(capacity_) +
                            " neighbour slots each exceed the kernels' 32-bit indexing of per-edge arrays");
    allocate<int>(cu_, neighbour_, E, "gaqNeighbour");
    allocate<int>(cu_, reverse_, E, "gaqReverse");
    allocate<Real>(cu_, r_, 3 * E, "gaqEdgeR");
    allocate<Real>(cu_, d_, E, "gaqEdgeD");
    allocate<Real>(cu_, Y_, E * h.shDim, "gaqEdgeY");
    allocate<Real>(cu_, basis_, E * h.numBasis, "gaqEdgeBasis");
    allocate<Real>(cu_, dbasis_, E * h.numBasis, "gaqEdgeDBasis");
    allocate<Real>(cu_, gd_, E, "gaqEdgeGd");
    allocate<Real>(cu_, gY_, E * h.shDim, "gaqEdgeGY");
    allocate<Real>(cu_, gradR_, 3 * E, "gaqEdgeGradR");
    for (int t = 0; t < h.numLayers; ++t) {
      const LayerRef& L = model_.layers[t];
      allocate<Real>(cu_, w_[t], E * L.radial[2].rows, "gaqRadialW");
      allocate<Real>(cu_, dw_[t], E * L.radial[2].rows, "gaqRadialDW");
      if (L.attention) {
        allocate<Real>(cu_, Kraw_[t], E * L.query.rows, "gaqAttentionKraw");
        allocate<Real>(cu_, expA_[t], E, "gaqAttentionExpA");
        allocate<Real>(cu_, alpha_[t], E, "gaqAttentionAlpha");
      }
    }
    if (model_.maxAttention > 0) {
      allocate<Real>(cu_, bessel_, E * h.numBasis, "gaqEdgeBessel");
      allocate<Real>(cu_, dbessel_, E * h.numBasis, "gaqEdgeDBessel");
      allocate<Real>(cu_, env_, E, "gaqEdgeEnvelope");
      allocate<Real>(cu_, denv_, E, "gaqEdgeDEnvelope");
      allocate<Real>(cu_, gKraw_, E * model_.maxAttention, "gaqGradKraw");
      allocate<Real>(cu_, gEnv_, E, "gaqGradEnvelope");
    }
  }

  void allocateCells() {
    allocate<int>(cu_, cellCount_, numCells_, "gaqCellCount");
    allocate<int>(cu_, cellAtoms_, static_cast<size_t>(numCells_) * cellCapacity_, "gaqCellAtoms");
  }

  /// The context's box in Å (host copy: no transfer); InputError for a box under 2 r_c.
  Box currentBox() {
    if (!periodic_) return Box();
    OpenMM::Vec3 a, b, c;
    cu_.getPeriodicBoxVectors(a, b, c);
    double rows[9];
    const OpenMM::Vec3* vectors[3] = {&a, &b, &c};
    for (int k = 0; k < 3; ++k)
      for (int x = 0; x < 3; ++x) rows[3 * k + x] = (*vectors[k])[x] * units::kAngstromPerNm;
    Box box;
    try {
      box = makeBox(rows, model_.header.cutoff);
    } catch (const std::exception& error) {
      throw OpenMMException(std::string("GaqForce: ") + error.what());
    }
    const int cells = box.cells[0] * box.cells[1] * box.cells[2];
    if (cells != numCells_) {
      numCells_ = cells;
      cellCapacity_ = std::max(cellCapacity_, 2 * n_ / cells + 8);
      allocateCells();
    }
    return box;
  }

  // ---- views of the device buffers ----
  Edges<Real> edges() {
    Edges<Real> e;
    e.n = n_, e.capacity = capacity_, e.count = devicePointer<int>(count_), e.neighbour = devicePointer<int>(neighbour_);
    e.reverse = devicePointer<int>(reverse_), e.r = devicePointer<Real>(r_), e.overflow = devicePointer<int>(overflow_);
    return e;
  }
  EdgeGeometry<Real> geometry() {
    EdgeGeometry<Real> geo;
    geo.d = devicePointer<Real>(d_), geo.Y = devicePointer<Real>(Y_), geo.basis = devicePointer<Real>(basis_);
    geo.dbasis = devicePointer<Real>(dbasis_), geo.gd = devicePointer<Real>(gd_), geo.gY = devicePointer<Real>(gY_);
    geo.frames = devicePointer<Real>(frames_);
    if (model_.maxAttention > 0) {
      geo.bessel = devicePointer<Real>(bessel_), geo.dbessel = devicePointer<Real>(dbessel_);
      geo.env = devicePointer<Real>(env_), geo.denv = devicePointer<Real>(denv_);
    }
    return geo;
  }
  LayerBuffers<Real> layer(int t) {
    LayerBuffers<Real> B;
    B.x = devicePointer<Real>(x_[t]), B.xu = devicePointer<Real>(xu_[t]), B.w = devicePointer<Real>(w_[t]);
    B.dw = devicePointer<Real>(dw_[t]), B.M = devicePointer<Real>(M_[t]), B.g = devicePointer<Real>(g_[t]);
    B.out = devicePointer<Real>(x_[t + 1]);
    const bool quantized = model_.header.quantized != 0;  // else xq is x and xuPre is xu
    B.xq = quantized ? devicePointer<Real>(xq_[t]) : B.x;
    B.xuPre = quantized ? devicePointer<Real>(xuPre_[t]) : B.xu;
    if (model_.layers[t].attention) {
      B.Q = devicePointer<Real>(Q_[t]), B.Ks = devicePointer<Real>(Ks_[t]), B.Z = devicePointer<Real>(Z_[t]);
      B.Kraw = devicePointer<Real>(Kraw_[t]), B.expA = devicePointer<Real>(expA_[t]);
      B.alpha = devicePointer<Real>(alpha_[t]);
    }
    return B;
  }
  GradBuffers<Real> grads(bool swapped) {
    Real* a = devicePointer<Real>(Gout_);
    Real* b = devicePointer<Real>(Gx_);
    GradBuffers<Real> G;
    G.Gout = swapped ? b : a, G.Gx = swapped ? a : b;
    G.gg = devicePointer<Real>(gg_), G.GM = devicePointer<Real>(GM_), G.Gxu = devicePointer<Real>(Gxu_);
    G.gradR = devicePointer<Real>(gradR_);
    const bool quantized = model_.header.quantized != 0;  // else GxuPre is Gxu and Gxq is Gx
    G.GxuPre = quantized ? devicePointer<Real>(GxuPre_) : G.Gxu;
    G.Gxq = quantized ? devicePointer<Real>(Gxq_) : G.Gx;
    G.gQ = devicePointer<Real>(gQ_);
    if (model_.maxAttention > 0) G.gKraw = devicePointer<Real>(gKraw_), G.gEnv = devicePointer<Real>(gEnv_);
    return G;
  }

  /// Launches kernel `name` over `work` items (grid-stride loops inside).
  template <typename... Args>
  void launch(const char* name, int work, Args... args) {
    void* pointers[] = {static_cast<void*>(&args)...};
    cu_.executeKernel(kernels_.at(name), pointers, std::max(work, 1));
  }

  // ---- one step ----
  void queueSearch(const Box& box) {
    const int numAtoms = cu_.getNumAtoms();
    launch("gaqClearInts", 2, 2, devicePointer<int>(overflow_));
    launch("gaqInvertAtomIndex", numAtoms, numAtoms, devicePointer<int>(cu_.getAtomIndexArray()),
           devicePointer<int>(inverse_));
    const CUdeviceptr correction = cu_.getUseMixedPrecision() ? cu_.getPosqCorrection().getDevicePointer() : 0;
    launch("gaqGatherPositions", n_, n_, cu_.getPosq().getDevicePointer(), correction, devicePointer<int>(inverse_),
           devicePointer<int>(particles_), devicePointer<Real>(pos_));
    const double cutoff = model_.header.cutoff;
    if (periodic_) {
      const Cells cells{cellCapacity_, devicePointer<int>(cellCount_), devicePointer<int>(cellAtoms_)};
      launch("gaqClearInts", numCells_, numCells_, cells.count);
      launch("gaqBinAtoms", n_, n_, box, devicePointer<Real>(pos_), cells, devicePointer<int>(overflow_));
      launch("gaqBuildRowsCells", n_, box, devicePointer<Real>(pos_), cutoff, cells, edges());
    } else {
      launch("gaqBuildRowsAllPairs", n_, box, devicePointer<Real>(pos_), cutoff, edges());
    }
    launch("gaqFindReverse", n_ * capacity_, edges());
  }

  void queueForward(bool includeEnergy) {
    const Params<Real>& P = params_;
    const int E = n_ * capacity_;
    launch("gaqEdgeGeometry", E, P, edges(), geometry());
    if (P.quantized && P.localFrames) launch("gaqLocalFrames", n_, edges(), geometry());
    launch("gaqEmbed", n_ * P.channels, P, n_, devicePointer<int>(species_), devicePointer<Real>(x_[0]));
    for (int t = 0; t < P.numLayers; ++t) {
      const LayerRef& L = model_.layers[t];
      const int in = n_ * L.in.dim, paths = n_ * L.numPaths * P.channels, gate = n_ * L.gate.dim, out = n_ * L.out.dim;
      const int channels = n_ * L.in.count * P.channels;
      if (P.quantized) launch("gaqQuantizeFeatures", channels, P, t, 0, channels, layer(t), geometry());
      launch("gaqLinearUp", in, P, t, in, layer(t));
      if (P.quantized) launch("gaqQuantizeFeatures", channels, P, t, 1, channels, layer(t), geometry());
      launch("gaqRadialWeights", E, P, t, edges(), geometry(), layer(t));
      if (L.attention) {
        const int nodes = n_ * L.query.rows;
        launch("gaqAttentionNode", nodes, P, t, nodes, layer(t));
        launch("gaqAttentionEdge", E, P, t, edges(), geometry(), layer(t));
        launch("gaqAttentionNormalize", n_, edges(), layer(t));
      }
      launch("gaqAggregateMessages", paths, P, t, paths, edges(), geometry(), layer(t));
      launch("gaqGateInput", gate, P, t, gate, layer(t));
      launch("gaqGateOutput", out, P, t, out, layer(t));
    }
    if (!includeEnergy) return;
    const int outDim = model_.layers.back().out.dim;
    launch("gaqAtomEnergy", n_, P, n_, devicePointer<int>(species_), devicePointer<Real>(x_.back()), outDim,
           devicePointer<Real>(atomEnergy_));
    const int slots = std::min(n_, static_cast<int>(cu_.getEnergyBuffer().getSize()));
    launch("gaqAddEnergy", slots, devicePointer<Real>(atomEnergy_), n_, units::kKjPerMolPerEv,
           devicePointer<int>(overflow_), cu_.getEnergyBuffer().getDevicePointer());
  }

  void queueBackward() {
    const Params<Real>& P = params_;
    const int E = n_ * capacity_, outDim = model_.layers.back().out.dim;
    bool swapped = false;  // Gout and Gx trade places after every layer
    launch("gaqReadoutGradient", n_ * outDim, P, n_, devicePointer<int>(species_), devicePointer<Real>(x_.back()),
           outDim, grads(swapped).Gout);
    for (int t = P.numLayers - 1; t >= 0; --t) {
      const LayerRef& L = model_.layers[t];
      const int gate = n_ * L.gate.dim, mid = n_ * L.mid.dim, blocks = n_ * L.in.count * P.channels, in = n_ * L.in.dim;
      launch("gaqGateGradient", gate, P, t, gate, layer(t), grads(swapped));
      launch("gaqMessageGradient", mid, P, t, mid, grads(swapped));
      if (L.attention) launch("gaqAttentionGradient", n_, P, t, edges(), geometry(), layer(t), grads(swapped));
      launch("gaqUpGradient", blocks, P, t, blocks, edges(), geometry(), layer(t), grads(swapped));
      launch("gaqEdgeGradient", E, P, t, edges(), geometry(), layer(t), grads(swapped));
      const GradBuffers<Real> G = grads(swapped);
      if (P.quantized)
        launch("gaqQuantizeFeaturesBackward", blocks, P, t, 1, blocks, layer(t), geometry(), G.Gxu, G.GxuPre);
      launch("gaqInputGradient", in, P, t, in, G);
      if (P.quantized) launch("gaqQuantizeFeaturesBackward", blocks, P, t, 0, blocks, layer(t), geometry(), G.Gxq, G.Gx);
      swapped = !swapped;
    }
    launch("gaqEdgeForce", E, P, edges(), geometry(), grads(swapped));
    launch("gaqAtomForce", n_, edges(), grads(swapped), devicePointer<int>(inverse_), devicePointer<int>(particles_),
           units::kKjPerMolNmPerEvAngstrom, cu_.getPaddedNumAtoms(), cu_.getForce().getDevicePointer());
  }

  CudaContext& cu_;
  HostModel model_;
  Params<Real> params_;
  const int n_;
  const bool periodic_;
  int capacity_ = 1, cellCapacity_ = 16, numCells_ = 0;
  std::map<std::string, CUfunction> kernels_;
  CudaArray values_, ints_, codes_, scales_, layers_, particles_, species_, inverse_, pos_, count_, overflow_;
  CudaArray neighbour_, reverse_, r_, d_, Y_, basis_, dbasis_, gd_, gY_, gradR_, cellCount_, cellAtoms_;
  CudaArray atomEnergy_, Gout_, gg_, GM_, Gxu_, Gx_, GxuPre_, Gxq_, frames_, gQ_, gKraw_, gEnv_;
  CudaArray bessel_, dbessel_, env_, denv_;
  std::vector<CudaArray> x_, xq_, xuPre_, xu_, M_, g_, w_, dw_, Q_, Ks_, Z_, Kraw_, expA_, alpha_;
  int* hostOverflow_ = nullptr;
  CUevent overflowEvent_ = nullptr;
};

}  // namespace

CudaCalcGaqForceKernel::~CudaCalcGaqForceKernel() {
  if (pipeline_) {
    OpenMM::ContextSelector selector(cu_);
    pipeline_.reset();
  }
}

void CudaCalcGaqForceKernel::initialize(const OpenMM::System&, const GaqForce& force) {
  HostModel model;
  try {
    model = buildHostModel(force.getModel());
  } catch (const ModelError& error) {
    throw OpenMMException(std::string("GaqForce: ") + error.what());
  }
  std::map<int, int> indexOf;  // atomic number -> species index
  for (size_t s = 0; s < model.species.size(); ++s) indexOf[model.species[s]] = static_cast<int>(s);
  const std::vector<int> particles = force.getModelParticles();
  std::vector<int> species;
  for (int p : particles) species.push_back(indexOf.at(force.getAtomicNumbers()[p]));  // GaqForceImpl validated
  OpenMM::ContextSelector selector(cu_);
  const bool periodic = force.usesPeriodicBoundaryConditions();
  if (cu_.getUseDoublePrecision())
    pipeline_ = std::make_unique<Pipeline<double>>(cu_, std::move(model), particles, species, periodic);
  else
    pipeline_ = std::make_unique<Pipeline<float>>(cu_, std::move(model), particles, species, periodic);
  cu_.addForce(new GaqForceInfo(force));
}

double CudaCalcGaqForceKernel::execute(OpenMM::ContextImpl& context, bool includeForces, bool includeEnergy) {
  OpenMM::ContextSelector selector(cu_);
  pipeline_->execute(context, includeForces, includeEnergy);
  return 0.0;
}

}  // namespace gaqmd::cuda
