// The __global__ kernels of GaqForce on CUDA: each maps its thread to work items (grid-stride) and
// calls the per-thread body of cuda/include/gaqmd/cuda/, which the host emulation tests.
// Compiled at run time through CudaContext::createModule (cuda/embed.cmake prepends the headers)
// with GAQ_REAL (float | double), GAQ_MIXED (the energy buffer's type), GAQ_POSQ (float4 |
// double4) and the GAQ_MAX_* sizes of Layout.h defined; launched by cuda/src/CudaGaqKernels.cpp.

using namespace gaqmd::cuda;
typedef GAQ_REAL Real;

#define GAQ_FOR_EACH(item, count) \
  for (int item = blockIdx.x * blockDim.x + threadIdx.x; item < (count); item += blockDim.x * gridDim.x)

// ---- layout check: sizes of the structs the host uploads as bytes ----
extern "C" __global__ void gaqLayoutSizes(int* sizes) {
  sizes[0] = sizeof(LayerRef);
  sizes[1] = sizeof(MatrixRef);
  sizes[2] = sizeof(Params<Real>);
}

// ---- positions and neighbour rows ----
extern "C" __global__ void gaqInvertAtomIndex(int numAtoms, const int* atomIndex, int* inverse) {
  GAQ_FOR_EACH(k, numAtoms) invertAtomIndex(k, atomIndex, inverse);
}

/// correction: mixed precision's posqCorrection, or null.
extern "C" __global__ void gaqGatherPositions(int n, const GAQ_POSQ* posq, const GAQ_POSQ* correction,
                                              const int* inverse, const int* particles, Real* pos) {
  GAQ_FOR_EACH(i, n) gatherPosition(i, posq, correction, inverse, particles, 10.0, pos);
}

extern "C" __global__ void gaqClearInts(int count, int* values) {
  GAQ_FOR_EACH(k, count) values[k] = 0;
}

extern "C" __global__ void gaqBinAtoms(int n, Box box, const Real* pos, Cells cells, int* overflow) {
  GAQ_FOR_EACH(i, n) binAtom(i, box, pos, cells, overflow + 1);
}

extern "C" __global__ void gaqBuildRowsAllPairs(Box box, const Real* pos, double cutoff, Edges<Real> edges) {
  GAQ_FOR_EACH(i, edges.n) buildRowAllPairs(i, box, pos, cutoff, edges);
}

extern "C" __global__ void gaqBuildRowsCells(Box box, const Real* pos, double cutoff, Cells cells, Edges<Real> edges) {
  GAQ_FOR_EACH(i, edges.n) buildRowCells(i, box, pos, cutoff, cells, edges);
}

extern "C" __global__ void gaqFindReverse(Edges<Real> edges) {
  GAQ_FOR_EACH(e, edges.n * edges.capacity) findReverse(e, edges);
}

// ---- forward ----
extern "C" __global__ void gaqEdgeGeometry(Params<Real> P, Edges<Real> edges, EdgeGeometry<Real> geo) {
  GAQ_FOR_EACH(e, edges.n * edges.capacity) edgeGeometry(e, P, edges, geo);
}

extern "C" __global__ void gaqLocalFrames(Edges<Real> edges, EdgeGeometry<Real> geo) {
  GAQ_FOR_EACH(i, edges.n) localFrame(i, edges, geo);
}

/// which = 0: in_q (x -> xq); 1: up_q (xuPre -> xu); one thread per (atom, block, channel).
extern "C" __global__ void gaqQuantizeFeatures(Params<Real> P, int t, int which, int count, LayerBuffers<Real> B,
                                               EdgeGeometry<Real> geo) {
  GAQ_FOR_EACH(item, count) quantizeFeatures(item, P, t, which, B, geo);
}

/// which = 0: Gxq -> Gx through in_q; 1: Gxu -> GxuPre through up_q (straight-through estimators).
extern "C" __global__ void gaqQuantizeFeaturesBackward(Params<Real> P, int t, int which, int count,
                                                       LayerBuffers<Real> B, EdgeGeometry<Real> geo, const Real* g,
                                                       Real* gx) {
  GAQ_FOR_EACH(item, count) quantizeFeaturesBackward(item, P, t, which, B, geo, g, gx);
}

extern "C" __global__ void gaqEmbed(Params<Real> P, int n, const int* species, Real* x) {
  GAQ_FOR_EACH(item, n * P.channels) embed(item, P, species, x);
}

extern "C" __global__ void gaqLinearUp(Params<Real> P, int t, int count, LayerBuffers<Real> B) {
  GAQ_FOR_EACH(item, count) linearUp(item, P, t, B);
}

extern "C" __global__ void gaqRadialWeights(Params<Real> P, int t, Edges<Real> edges, EdgeGeometry<Real> geo,
                                            LayerBuffers<Real> B) {
  GAQ_FOR_EACH(e, edges.n * edges.capacity) radialWeights(e, P, t, edges, geo, B);
}

extern "C" __global__ void gaqAggregateMessages(Params<Real> P, int t, int count, Edges<Real> edges,
                                                EdgeGeometry<Real> geo, LayerBuffers<Real> B) {
  GAQ_FOR_EACH(item, count) aggregateMessages(item, P, t, edges, geo, B);
}

// attention (per layer, after the radial weights)
extern "C" __global__ void gaqAttentionNode(Params<Real> P, int t, int count, LayerBuffers<Real> B) {
  GAQ_FOR_EACH(item, count) attentionNode(item, P, t, B);
}

extern "C" __global__ void gaqAttentionEdge(Params<Real> P, int t, Edges<Real> edges, EdgeGeometry<Real> geo,
                                            LayerBuffers<Real> B) {
  GAQ_FOR_EACH(e, edges.n * edges.capacity) attentionEdge(e, P, t, edges, geo, B);
}

extern "C" __global__ void gaqAttentionNormalize(Edges<Real> edges, LayerBuffers<Real> B) {
  GAQ_FOR_EACH(i, edges.n) attentionNormalize(i, edges, B);
}

extern "C" __global__ void gaqGateInput(Params<Real> P, int t, int count, LayerBuffers<Real> B) {
  GAQ_FOR_EACH(item, count) gateInput(item, P, t, B);
}

extern "C" __global__ void gaqGateOutput(Params<Real> P, int t, int count, LayerBuffers<Real> B) {
  GAQ_FOR_EACH(item, count) gateOutput(item, P, t, B);
}

extern "C" __global__ void gaqAtomEnergy(Params<Real> P, int n, const int* species, const Real* out, int outDim,
                                         Real* energy) {
  GAQ_FOR_EACH(i, n) atomEnergy(i, P, species, out, outDim, energy);
}

/// One slot per thread of the launch; the launch has at most as many threads as the buffer slots.
extern "C" __global__ void gaqAddEnergy(const Real* energy, int n, double factor, const int* overflow,
                                        GAQ_MIXED* buffer) {
  addEnergy(blockIdx.x * blockDim.x + threadIdx.x, blockDim.x * gridDim.x, energy, n, factor, overflow, buffer);
}

// ---- backward ----
extern "C" __global__ void gaqReadoutGradient(Params<Real> P, int n, const int* species, const Real* out, int outDim,
                                              Real* Gout) {
  GAQ_FOR_EACH(item, n * outDim) readoutGradient(item, P, species, out, outDim, Gout);
}

extern "C" __global__ void gaqGateGradient(Params<Real> P, int t, int count, LayerBuffers<Real> B, GradBuffers<Real> G) {
  GAQ_FOR_EACH(item, count) gateGradient(item, P, t, B, G);
}

extern "C" __global__ void gaqMessageGradient(Params<Real> P, int t, int count, GradBuffers<Real> G) {
  GAQ_FOR_EACH(item, count) messageGradient(item, P, t, G);
}

extern "C" __global__ void gaqAttentionGradient(Params<Real> P, int t, Edges<Real> edges, EdgeGeometry<Real> geo,
                                                LayerBuffers<Real> B, GradBuffers<Real> G) {
  GAQ_FOR_EACH(i, edges.n) attentionGradient(i, P, t, edges, geo, B, G.GM, G.gQ, G.gKraw, G.gEnv);
}

extern "C" __global__ void gaqUpGradient(Params<Real> P, int t, int count, Edges<Real> edges, EdgeGeometry<Real> geo,
                                         LayerBuffers<Real> B, GradBuffers<Real> G) {
  GAQ_FOR_EACH(item, count) upGradient(item, P, t, edges, geo, B, G);
}

extern "C" __global__ void gaqEdgeGradient(Params<Real> P, int t, Edges<Real> edges, EdgeGeometry<Real> geo,
                                           LayerBuffers<Real> B, GradBuffers<Real> G) {
  GAQ_FOR_EACH(e, edges.n * edges.capacity) edgeGradient(e, P, t, edges, geo, B, G);
}

extern "C" __global__ void gaqInputGradient(Params<Real> P, int t, int count, GradBuffers<Real> G) {
  GAQ_FOR_EACH(item, count) inputGradient(item, P, t, G);
}

extern "C" __global__ void gaqEdgeForce(Params<Real> P, Edges<Real> edges, EdgeGeometry<Real> geo, GradBuffers<Real> G) {
  GAQ_FOR_EACH(e, edges.n * edges.capacity) edgeForce(e, P, edges, geo, G);
}

extern "C" __global__ void gaqAtomForce(Edges<Real> edges, GradBuffers<Real> G, const int* inverse,
                                        const int* particles, double factor, int stride, long long* forceBuffer) {
  GAQ_FOR_EACH(i, edges.n) atomForce(i, edges, G, inverse, particles, factor, stride, forceBuffer);
}
