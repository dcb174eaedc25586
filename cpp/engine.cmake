# gaqmd_engine: the model arithmetic (docs/format.md), standard library only. Static, linked into
# gaqmd._core and the OpenMM plugin.
set(_gaqmd_engine_dir "${CMAKE_CURRENT_LIST_DIR}")
add_library(gaqmd_engine STATIC
  ${_gaqmd_engine_dir}/src/engine/ModelData.cpp
  ${_gaqmd_engine_dir}/src/engine/Reader.cpp
  ${_gaqmd_engine_dir}/src/engine/Decode.cpp
  ${_gaqmd_engine_dir}/src/engine/Codebook.cpp
  ${_gaqmd_engine_dir}/src/engine/Neighbors.cpp
  ${_gaqmd_engine_dir}/src/engine/Features.cpp
  ${_gaqmd_engine_dir}/src/engine/Kernels.cpp
  ${_gaqmd_engine_dir}/src/engine/Parallel.cpp
  ${_gaqmd_engine_dir}/src/engine/Radial.cpp
  ${_gaqmd_engine_dir}/src/engine/Forward.cpp
  ${_gaqmd_engine_dir}/src/engine/Backward.cpp
  ${_gaqmd_engine_dir}/src/engine/BackwardPairs.cpp
  ${_gaqmd_engine_dir}/src/engine/Engine.cpp)
target_include_directories(gaqmd_engine PUBLIC ${_gaqmd_engine_dir}/include)
target_link_libraries(gaqmd_engine PUBLIC Threads::Threads)
# -ffp-contract=off: no fused multiply-add, so quantizer inputs, norms and codebook scores round
# exactly as the float64 PyTorch model's (docs/format.md evaluation orders).
target_compile_options(gaqmd_engine PRIVATE -Wall -Wextra -ffp-contract=off)
# Optimize the engine even in RelWithDebInfo builds (the default Release is -O3 already).
target_compile_options(gaqmd_engine PRIVATE -O3)

# Kernel ISA (src/engine/Kernels.cpp, and only that file, gets the flags):
# GAQMD_ENGINE_AVX512: -mavx512f -mavx2 -mfma (8-wide vectors; ~20% faster than AVX2 on aspirin);
# GAQMD_ENGINE_AVX2: -mavx2 -mfma (4-wide). Each defaults ON only when the compiler accepts the
# flags and this build host runs such code (AVX-512 wins when both are ON); both OFF gives the
# portable SSE2 kernels. Results differ between them in round-off only. A build run on a CPU
# without its ISA refuses to construct an Engine with a clear error instead of crashing
# (Engine.cpp), so wheels meant for unknown CPUs should be built with both OFF.
include(CheckCXXSourceRuns)
set(CMAKE_REQUIRED_FLAGS "-mavx2 -mfma")
check_cxx_source_runs([=[
#include <immintrin.h>
int main() {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return 1;
  volatile double in[4] = {1, 2, 3, 4};
  __m256d a = _mm256_set_pd(in[0], in[1], in[2], in[3]);
  __m256d r = _mm256_fmadd_pd(a, a, a);
  double out[4];
  _mm256_storeu_pd(out, r);
  return out[0] == 20.0 ? 0 : 1;
}
]=] GAQMD_HOST_HAS_AVX2_FMA)
set(CMAKE_REQUIRED_FLAGS "-mavx512f -mavx2 -mfma")
check_cxx_source_runs([=[
#include <immintrin.h>
int main() {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
    return 1;
  volatile double in = 3.0;
  __m512d a = _mm512_set1_pd(in);
  __m512d r = _mm512_fmadd_pd(a, a, a);
  double out[8];
  _mm512_storeu_pd(out, r);
  return out[7] == 12.0 ? 0 : 1;
}
]=] GAQMD_HOST_HAS_AVX512F)
unset(CMAKE_REQUIRED_FLAGS)
option(GAQMD_ENGINE_AVX2 "Compile the engine's kernels with -mavx2 -mfma" ${GAQMD_HOST_HAS_AVX2_FMA})
option(GAQMD_ENGINE_AVX512 "Compile the engine's kernels with -mavx512f -mavx2 -mfma" ${GAQMD_HOST_HAS_AVX512F})
if(GAQMD_ENGINE_AVX512)
  set_source_files_properties(${_gaqmd_engine_dir}/src/engine/Kernels.cpp PROPERTIES
    COMPILE_OPTIONS "-mavx512f;-mavx2;-mfma" COMPILE_DEFINITIONS GAQMD_KERNEL_WANT_AVX512)
elseif(GAQMD_ENGINE_AVX2)
  set_source_files_properties(${_gaqmd_engine_dir}/src/engine/Kernels.cpp PROPERTIES COMPILE_OPTIONS "-mavx2;-mfma")
endif()
message(STATUS "gaqmd engine kernels: GAQMD_ENGINE_AVX512=${GAQMD_ENGINE_AVX512} GAQMD_ENGINE_AVX2=${GAQMD_ENGINE_AVX2}")
