#pragma once
// The model description flattened into the CUDA layout (cuda/include/gaqmd/cuda/Layout.h): what
// the GPU glue uploads once and what the emulation points at directly.

#include <string>
#include <vector>

#include "gaqmd/cuda/Layout.h"
#include "gaqmd/engine/ModelData.h"

namespace gaqmd::cuda {

struct HostModel {
  std::string mode;               // fp32, w4a32
  std::vector<int> species;       // atomic numbers in model order
  std::vector<double> values;     // Params::values
  std::vector<int> ints;          // Params::ints
  std::vector<uint8_t> codes;     // Params::codes
  std::vector<double> scales;     // Params::scales
  std::vector<LayerRef> layers;   // Params::layers
  Params<double> header;          // sizes and offsets; its pointers are null
  int maxFeatureDim = 0;          // the largest D_in, D_mid, D_gate, D_out of any layer
  int maxRadialWidth = 0;         // the largest P C
  int maxAttention = 0;           // the largest attention width A (0: no attention)

  /// Params with the given arrays (host vectors or device copies converted to Real).
  template <typename Real>
  Params<Real> view(const Real* values_, const int* ints_, const uint8_t* codes_, const Real* scales_,
                    const LayerRef* layers_) const {
    Params<Real> p;
    p.values = values_, p.ints = ints_, p.codes = codes_, p.scales = scales_, p.layers = layers_;
    p.readout = header.readout, p.embedding = header.embedding, p.frequencies = header.frequencies;
    p.numLayers = header.numLayers, p.numSpecies = header.numSpecies, p.channels = header.channels;
    p.numBasis = header.numBasis, p.lMax = header.lMax, p.shDim = header.shDim;
    p.hidden = header.hidden, p.readoutWidth = header.readoutWidth;
    p.cutoff = header.cutoff, p.cutoffP = header.cutoffP, p.messageScale = header.messageScale;
    p.quantized = header.quantized, p.localFrames = header.localFrames, p.codebook = header.codebook;
    p.directionFrames = header.directionFrames;
    p.codebookSize = header.codebookSize, p.zeroThreshold = header.zeroThreshold;
    p.codebookNZ = header.codebookNZ, p.codebookNPhi = header.codebookNPhi;
    p.codebookOffsets = header.codebookOffsets, p.codebookIndices = header.codebookIndices;
    return p;
  }
};

/// Validates (through the engine's decoder) and flattens `data`. ModelError for sizes beyond the
/// compile-time capacities of Layout.h.
HostModel buildHostModel(const ModelData& data);

/// The #defines that size the kernels for `model` (GAQ_MAX_* of Layout.h).
std::vector<std::pair<std::string, std::string>> kernelDefines(const HostModel& model);

}  // namespace gaqmd::cuda
