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
