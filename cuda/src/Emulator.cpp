// The host emulation of the CUDA pipeline: every loop below is one kernel launch in
// CudaGaqKernels.cpp, over the same work items, calling the same per-thread function.

#include "Emulator.h"

#include <algorithm>
#include <cmath>

#include "gaqmd/cuda/Forward.h"
#include "gaqmd/internal/Units.h"

namespace gaqmd::cuda {

Box makeBox(const double* rows, double cutoff) {
  Box box;
  if (rows == nullptr) return box;
  box.periodic = 1;
  std::copy(rows, rows + 9, box.h);
  const double* a = rows;
  const double *b = rows + 3, *c = rows + 6;
  // inverse of H (rows a, b, c): columns are (b x c, c x a, a x b) / det
  double bc[3], ca[3], ab[3];
  math::cross(b, c, bc), math::cross(c, a, ca), math::cross(a, b, ab);
  const double det = math::dot(a, bc);
  if (!(std::fabs(det) > 0)) throw InputError("the periodic box is degenerate");
  for (int r = 0; r < 3; ++r) box.inv[3 * r] = bc[r] / det, box.inv[3 * r + 1] = ca[r] / det, box.inv[3 * r + 2] = ab[r] / det;
  const double* normals[3] = {bc, ca, ab};
  for (int k = 0; k < 3; ++k) {
    const double height = std::fabs(det) / std::sqrt(math::dot(normals[k], normals[k]));
    if (!(height >= 2 * cutoff))
      throw InputError("the periodic box is " + std::to_string(height) + " Å high along box vector " + std::to_string(k) +
                       ", less than twice the model's cutoff (" + std::to_string(2 * cutoff) + " Å)");
    box.cells[k] = std::max(2, static_cast<int>(height / cutoff));
  }
  return box;
}

template <typename Real>
Emulator<Real>::Emulator(const ModelData& data, std::vector<int> particles, std::vector<int> species)
    : model_(buildHostModel(data)), particles_(std::move(particles)), species_(std::move(species)) {
  n_ = static_cast<int>(particles_.size());
  values_.assign(model_.values.begin(), model_.values.end());
  scales_.assign(model_.scales.begin(), model_.scales.end());
  params_ = model_.template view<Real>(values_.data(), model_.ints.data(), model_.codes.data(), scales_.data(),
                                       model_.layers.data());
  const int T = params_.numLayers;
  x_.resize(T + 1), xq_.resize(T), xuPre_.resize(T), xu_.resize(T), w_.resize(T), dw_.resize(T), M_.resize(T),
      g_.resize(T);
  Q_.resize(T), Ks_.resize(T), Z_.resize(T), Kraw_.resize(T), expA_.resize(T), alpha_.resize(T);
  const bool quantized = params_.quantized != 0;
  x_[0].resize(static_cast<size_t>(n_) * params_.channels);
  for (int t = 0; t < T; ++t) {
    const LayerRef& L = model_.layers[t];
    xu_[t].resize(static_cast<size_t>(n_) * L.in.dim), M_[t].resize(static_cast<size_t>(n_) * L.mid.dim);
    if (quantized) xq_[t].resize(xu_[t].size()), xuPre_[t].resize(xu_[t].size());
    if (L.attention) {
      const size_t A = L.query.rows;
      Q_[t].resize(n_ * A), Ks_[t].resize(n_ * A), Z_[t].resize(n_);
    }
    g_[t].resize(static_cast<size_t>(n_) * L.gate.dim), x_[t + 1].resize(static_cast<size_t>(n_) * L.out.dim);
  }
  const size_t D = static_cast<size_t>(n_) * model_.maxFeatureDim;
  atomEnergy_.resize(n_), Gout_.resize(D), gg_.resize(D), GM_.resize(D), Gxu_.resize(D), Gx_.resize(D);
  if (quantized) GxuPre_.resize(D), Gxq_.resize(D), frames_.resize(9 * static_cast<size_t>(n_));
  if (model_.maxAttention > 0) gQ_.resize(static_cast<size_t>(n_) * model_.maxAttention);
  pos_.resize(3 * static_cast<size_t>(n_)), count_.resize(n_);
  // Smaller than the GPU glue's first rows (CudaGaqKernels.cpp), so that the tests run the overflow path.
  capacity_ = std::max(1, std::min(n_ - 1, 32));
}

template <typename Real>
Edges<Real> Emulator<Real>::edges() {
  Edges<Real> e;
  e.n = n_, e.capacity = capacity_, e.count = count_.data(), e.neighbour = neighbour_.data();
  e.reverse = reverse_.data(), e.r = r_.data(), e.overflow = overflow_;
  return e;
}

template <typename Real>
EdgeGeometry<Real> Emulator<Real>::geometry() {
  EdgeGeometry<Real> geo{d_.data(), Y_.data(), basis_.data(), dbasis_.data(), gd_.data(), gY_.data(), frames_.data()};
  if (model_.maxAttention > 0)
    geo.bessel = bessel_.data(), geo.dbessel = dbessel_.data(), geo.env = env_.data(), geo.denv = denv_.data();
  return geo;
}

template <typename Real>
LayerBuffers<Real> Emulator<Real>::layer(int t) {
  LayerBuffers<Real> B;
  B.x = x_[t].data(), B.xu = xu_[t].data(), B.w = w_[t].data(), B.dw = dw_[t].data();
  B.M = M_[t].data(), B.g = g_[t].data(), B.out = x_[t + 1].data();
  const bool quantized = params_.quantized != 0;  // else xq is x and xuPre is xu
  B.xq = quantized ? xq_[t].data() : B.x, B.xuPre = quantized ? xuPre_[t].data() : B.xu;
  B.Q = Q_[t].data(), B.Ks = Ks_[t].data(), B.Z = Z_[t].data(), B.Kraw = Kraw_[t].data();
  B.expA = expA_[t].data(), B.alpha = alpha_[t].data();
  return B;
}

template <typename Real>
GradBuffers<Real> Emulator<Real>::grads() {
  GradBuffers<Real> G;
  G.Gout = Gout_.data(), G.gg = gg_.data(), G.GM = GM_.data(), G.Gxu = Gxu_.data(), G.Gx = Gx_.data();
  G.gradR = gradR_.data();
  const bool quantized = params_.quantized != 0;  // else GxuPre is Gxu and Gxq is Gx
  G.GxuPre = quantized ? GxuPre_.data() : G.Gxu, G.Gxq = quantized ? Gxq_.data() : G.Gx;
  G.gQ = gQ_.data(), G.gKraw = gKraw_.data(), G.gEnv = gEnv_.data();
  return G;
}

/// Neighbour rows into the current capacities; the overflow counters say whether they sufficed.
template <typename Real>
void Emulator<Real>::buildNeighbours(const Box& box) {
  const size_t E = static_cast<size_t>(n_) * capacity_;
  neighbour_.assign(E, -1), reverse_.assign(E, -1), r_.assign(3 * E, 0);
  overflow_[0] = overflow_[1] = 0;
  const Edges<Real> e = edges();
  if (box.periodic) {
    const int numCells = box.cells[0] * box.cells[1] * box.cells[2];
    cellCount_.assign(numCells, 0), cellAtoms_.assign(static_cast<size_t>(numCells) * cellCapacity_, -1);
    const Cells cells{cellCapacity_, cellCount_.data(), cellAtoms_.data()};
    for (int i = 0; i < n_; ++i) binAtom(i, box, pos_.data(), cells, overflow_ + 1);
    for (int i = 0; i < n_; ++i) buildRowCells(i, box, pos_.data(), params_.cutoff, cells, e);
  } else {
    for (int i = 0; i < n_; ++i) buildRowAllPairs(i, box, pos_.data(), params_.cutoff, e);
  }
  for (size_t s = 0; s < E; ++s) findReverse(static_cast<int>(s), e);
}

template <typename Real>
void Emulator<Real>::forward(double* energy, std::vector<double>& slots) {
  const Params<Real>& P = params_;
  const int E = n_ * capacity_;
  const Edges<Real> e = edges();
  d_.assign(E, 0), Y_.assign(static_cast<size_t>(E) * P.shDim, 0), gd_.assign(E, 0);
  gY_.assign(static_cast<size_t>(E) * P.shDim, 0);
  basis_.assign(static_cast<size_t>(E) * P.numBasis, 0), dbasis_.assign(basis_.size(), 0);
  if (model_.maxAttention > 0) {
    bessel_.assign(basis_.size(), 0), dbessel_.assign(basis_.size(), 0), env_.assign(E, 0), denv_.assign(E, 0);
    for (int t = 0; t < P.numLayers; ++t)
      if (model_.layers[t].attention) {
        Kraw_[t].assign(static_cast<size_t>(E) * model_.layers[t].query.rows, 0);
        expA_[t].assign(E, 0), alpha_[t].assign(E, 0);
      }
  }
  const EdgeGeometry<Real> geo = geometry();
  for (int s = 0; s < E; ++s) edgeGeometry(s, P, e, geo);
  if (P.quantized && P.localFrames)
    for (int i = 0; i < n_; ++i) localFrame(i, e, geo);
  for (int item = 0; item < n_ * P.channels; ++item) embed(item, P, species_.data(), x_[0].data());
  for (int t = 0; t < P.numLayers; ++t) {
    const LayerRef& L = model_.layers[t];
    const int W = L.radial[2].rows;
    w_[t].assign(static_cast<size_t>(E) * W, 0), dw_[t].assign(w_[t].size(), 0);
    const LayerBuffers<Real> B = layer(t);
    const int channels = n_ * L.in.count * P.channels;
    if (P.quantized)
      for (int item = 0; item < channels; ++item) quantizeFeatures(item, P, t, 0, B, geo);
    for (int item = 0; item < n_ * L.in.dim; ++item) linearUp(item, P, t, B);
    if (P.quantized)
      for (int item = 0; item < channels; ++item) quantizeFeatures(item, P, t, 1, B, geo);
    for (int s = 0; s < E; ++s) radialWeights(s, P, t, e, geo, B);
    if (L.attention) {
      for (int item = 0; item < n_ * L.query.rows; ++item) attentionNode(item, P, t, B);
      for (int s = 0; s < E; ++s) attentionEdge(s, P, t, e, geo, B);
      for (int i = 0; i < n_; ++i) attentionNormalize(i, e, B);
    }
    for (int item = 0; item < n_ * L.numPaths * P.channels; ++item) aggregateMessages(item, P, t, e, geo, B);
    for (int item = 0; item < n_ * L.gate.dim; ++item) gateInput(item, P, t, B);
    for (int item = 0; item < n_ * L.out.dim; ++item) gateOutput(item, P, t, B);
  }
  const int outDim = model_.layers.back().out.dim;
  for (int i = 0; i < n_; ++i) atomEnergy(i, P, species_.data(), x_.back().data(), outDim, atomEnergy_.data());
  const int threads = static_cast<int>(slots.size());
  for (int thread = 0; thread < threads; ++thread)
    addEnergy(thread, threads, atomEnergy_.data(), n_, units::kKjPerMolPerEv, overflow_, slots.data());
  *energy = 0;
  for (double s : slots) *energy += s;  // after a rerun: the skipped first pass added nothing
}

template <typename Real>
void Emulator<Real>::backward(const SystemView<Real>& system) {
  const Params<Real>& P = params_;
  const int E = n_ * capacity_;
  const Edges<Real> e = edges();
  const EdgeGeometry<Real> geo = geometry();
  gradR_.assign(3 * static_cast<size_t>(E), 0);
  if (model_.maxAttention > 0) gKraw_.assign(static_cast<size_t>(E) * model_.maxAttention, 0), gEnv_.assign(E, 0);
  const int outDim = model_.layers.back().out.dim;
  for (int item = 0; item < n_ * outDim; ++item)
    readoutGradient(item, P, species_.data(), x_.back().data(), outDim, Gout_.data());
  for (int t = P.numLayers - 1; t >= 0; --t) {
    const LayerRef& L = model_.layers[t];
    const LayerBuffers<Real> B = layer(t);
    const GradBuffers<Real> G = grads();
    for (int item = 0; item < n_ * L.gate.dim; ++item) gateGradient(item, P, t, B, G);
    for (int item = 0; item < n_ * L.mid.dim; ++item) messageGradient(item, P, t, G);
    if (L.attention)
      for (int i = 0; i < n_; ++i) attentionGradient(i, P, t, e, geo, B, G.GM, G.gQ, G.gKraw, G.gEnv);
    for (int item = 0; item < n_ * L.in.count * P.channels; ++item) upGradient(item, P, t, e, geo, B, G);
    for (int s = 0; s < E; ++s) edgeGradient(s, P, t, e, geo, B, G);
    const int channels = n_ * L.in.count * P.channels;
    if (P.quantized)
      for (int item = 0; item < channels; ++item) quantizeFeaturesBackward(item, P, t, 1, B, geo, G.Gxu, G.GxuPre);
    for (int item = 0; item < n_ * L.in.dim; ++item) inputGradient(item, P, t, G);
    if (P.quantized)
      for (int item = 0; item < channels; ++item) quantizeFeaturesBackward(item, P, t, 0, B, geo, G.Gxq, G.Gx);
    std::swap(Gout_, Gx_);  // the GPU swaps the two buffers' pointers the same way
  }
  const GradBuffers<Real> G = grads();
  for (int s = 0; s < E; ++s) edgeForce(s, P, e, geo, G);
  for (int i = 0; i < n_; ++i)
    atomForce(i, e, G, inverse_.data(), particles_.data(), units::kKjPerMolNmPerEvAngstrom, system.stride,
              system.forceBuffer);
}

template <typename Real>
double Emulator<Real>::execute(const SystemView<Real>& system, const double* boxRows, int energySlots) {
  const Box box = makeBox(boxRows, params_.cutoff);
  inverse_.assign(system.numAtoms, -1);
  for (int k = 0; k < system.numAtoms; ++k) invertAtomIndex(k, system.atomIndex, inverse_.data());
  for (int i = 0; i < n_; ++i)
    gatherPosition(i, system.posq, static_cast<const HostReal4<Real>*>(nullptr), inverse_.data(), particles_.data(), units::kAngstromPerNm, pos_.data());
  // As on the GPU: the whole step runs; after an overflow its energy and force writes were
  // skipped, the capacities grow and the step reruns.
  std::vector<double> slots(energySlots, 0.0);
  double energy = 0;
  for (;;) {
    buildNeighbours(box);
    forward(&energy, slots);
    backward(system);
    if (!searchOverflowed(overflow_)) return energy;
    ++reruns_;
    if (overflow_[0] > 0) capacity_ = overflow_[0] + overflow_[0] / 4 + 1;
    if (overflow_[1] > 0) cellCapacity_ = overflow_[1] + overflow_[1] / 4 + 1;
  }
}

template class Emulator<double>;
template class Emulator<float>;

}  // namespace gaqmd::cuda
