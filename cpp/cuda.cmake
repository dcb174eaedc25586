# GaqForce on OpenMM's CUDA platform (docs/cuda.md). Three parts:
#  1. always: gaqmd_cuda_host, the host emulation of the CUDA kernels, and its CTest
#     test_cuda_emulation (no CUDA needed): the kernels' per-thread bodies against gaqmd::Engine;
#  2. with nvcc: gaqmd_cuda_kernels_check compiles the generated kernel source for sm_80 and sm_90
#     (the source CudaContext::createModule compiles at run time), so a syntax error cannot land;
#  3. with OpenMM's CUDA headers, CUDA's driver API and libOpenMMCUDA.so: the plugin library
#     gaqmdCUDA (CudaCalcGaqForceKernel and its factory), installed next to gaqmd._core.
# GAQMD_CUDA: AUTO builds what the machine allows and says what it skipped; ON makes parts 2 and 3
# required; OFF builds part 1 only.
set(GAQMD_CUDA AUTO CACHE STRING "CUDA platform of GaqForce: AUTO, ON or OFF")
set_property(CACHE GAQMD_CUDA PROPERTY STRINGS AUTO ON OFF)
set(GAQMD_OPENMM_CUDA_LIBRARY "${OPENMM_DIR}/lib/plugins/libOpenMMCUDA.so" CACHE FILEPATH
    "libOpenMMCUDA.so (pip install OpenMM-CUDA-12 puts it into the openmm wheel's plugin folder)")
get_filename_component(_gaqmd_root "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
set(_gaqmd_cuda "${_gaqmd_root}/cuda")

# ---- 1. host emulation ----
add_library(gaqmd_cuda_host STATIC ${_gaqmd_cuda}/src/HostModel.cpp ${_gaqmd_cuda}/src/CodebookCells.cpp
            ${_gaqmd_cuda}/src/Emulator.cpp)
target_include_directories(gaqmd_cuda_host PUBLIC ${_gaqmd_cuda}/include ${_gaqmd_cuda}/src)
target_link_libraries(gaqmd_cuda_host PUBLIC gaqmd_engine)
target_compile_options(gaqmd_cuda_host PRIVATE -Wall -Wextra)
if(BUILD_TESTING)
  add_executable(test_cuda_emulation ${_gaqmd_cuda}/tests/test_cuda_emulation.cpp)
  target_link_libraries(test_cuda_emulation PRIVATE gaqmd_cuda_host gaqmd_openmm)
  target_compile_options(test_cuda_emulation PRIVATE -Wall -Wextra)
  set(_gaqmd_fixtures "${CMAKE_CURRENT_BINARY_DIR}/cuda_fixtures")
  add_test(NAME cuda_emulation_fixtures
           COMMAND ${Python_EXECUTABLE} ${_gaqmd_cuda}/tests/make_fixtures.py ${_gaqmd_fixtures})
  set_tests_properties(cuda_emulation_fixtures PROPERTIES FIXTURES_SETUP gaqmd_cuda_fixtures
                       ENVIRONMENT "OMP_NUM_THREADS=1"
                       ENVIRONMENT_MODIFICATION "PYTHONPATH=path_list_prepend:${_gaqmd_root}/python")
  add_test(NAME test_cuda_emulation COMMAND test_cuda_emulation ${_gaqmd_fixtures})
  set_tests_properties(test_cuda_emulation PROPERTIES FIXTURES_REQUIRED gaqmd_cuda_fixtures)
endif()

if(GAQMD_CUDA STREQUAL "OFF")
  message(STATUS "gaqmd CUDA platform: off (GAQMD_CUDA=OFF); the host emulation is built")
  return()
endif()

# ---- 2. the kernel source and its compile check ----
set(_gaqmd_kernel_cu "${CMAKE_CURRENT_BINARY_DIR}/gaqmd_cuda/gaqKernelsAll.cu")
set(_gaqmd_kernel_cpp "${CMAKE_CURRENT_BINARY_DIR}/gaqmd_cuda/KernelSource.cpp")
file(GLOB _gaqmd_kernel_inputs CONFIGURE_DEPENDS ${_gaqmd_root}/cpp/include/gaqmd/math/*.h ${_gaqmd_cuda}/include/gaqmd/cuda/*.h
     ${_gaqmd_cuda}/kernels/*.cu)
add_custom_command(OUTPUT ${_gaqmd_kernel_cu} ${_gaqmd_kernel_cpp}
  COMMAND ${CMAKE_COMMAND} -DROOT=${_gaqmd_root} -DOUT_CU=${_gaqmd_kernel_cu} -DOUT_CPP=${_gaqmd_kernel_cpp}
          -P ${_gaqmd_cuda}/embed.cmake
  DEPENDS ${_gaqmd_kernel_inputs} ${_gaqmd_cuda}/embed.cmake
  COMMENT "gaqmd: generating the CUDA kernel source")

include(CheckLanguage)
check_language(CUDA)
if(NOT CMAKE_CUDA_COMPILER)
  if(GAQMD_CUDA STREQUAL "ON")
    message(FATAL_ERROR "GAQMD_CUDA=ON but no CUDA compiler (nvcc) was found")
  endif()
  message(STATUS "gaqmd CUDA platform: skipped (no nvcc found); the host emulation is built")
  return()
endif()
enable_language(CUDA)
find_package(CUDAToolkit REQUIRED)
# Both precisions of the runtime-compiled source, for Ampere and Hopper: one object file each.
foreach(_precision single double)
  set(_target gaqmd_cuda_kernels_check_${_precision})
  add_library(${_target} OBJECT ${_gaqmd_kernel_cu})
  set_target_properties(${_target} PROPERTIES CUDA_ARCHITECTURES "80;90" CUDA_STANDARD 17)
  # CUDA 13 deprecates double4, the type of OpenMM's double-precision posq.
  target_compile_options(${_target} PRIVATE -Wno-deprecated-declarations -Xcompiler=-Wno-deprecated-declarations)
  if(_precision STREQUAL "single")
    target_compile_definitions(${_target} PRIVATE GAQ_REAL=float GAQ_MIXED=float GAQ_POSQ=float4)
  else()
    target_compile_definitions(${_target} PRIVATE GAQ_REAL=double GAQ_MIXED=double GAQ_POSQ=double4)
  endif()
endforeach()

# NVRTC (what CudaContext::createModule uses) on the same source, single/mixed/double, when a
# libnvrtc is at hand (the CUDA toolkit's, or the nvidia-cuda-nvrtc wheel's: set GAQMD_NVRTC_LIBRARY).
find_library(GAQMD_NVRTC_LIBRARY NAMES nvrtc libnvrtc.so.13 libnvrtc.so.12 HINTS ${CUDAToolkit_LIBRARY_DIR})
if(BUILD_TESTING AND GAQMD_NVRTC_LIBRARY)
  add_custom_target(gaqmd_cuda_kernel_source ALL DEPENDS ${_gaqmd_kernel_cu})
  get_filename_component(_gaqmd_nvrtc_dir "${GAQMD_NVRTC_LIBRARY}" DIRECTORY)
  add_test(NAME cuda_nvrtc_compile
           COMMAND ${Python_EXECUTABLE} ${_gaqmd_cuda}/tests/nvrtc_check.py ${_gaqmd_kernel_cu} ${GAQMD_NVRTC_LIBRARY})
  set_tests_properties(cuda_nvrtc_compile PROPERTIES ENVIRONMENT "LD_LIBRARY_PATH=${_gaqmd_nvrtc_dir}")
else()
  message(STATUS "gaqmd CUDA platform: no libnvrtc found (GAQMD_NVRTC_LIBRARY): the NVRTC compile test is skipped")
endif()

# ---- 3. the OpenMM plugin ----
set(_gaqmd_openmm_cuda_headers "${OPENMM_DIR}/include/openmm/cuda/CudaContext.h")
if(NOT EXISTS "${_gaqmd_openmm_cuda_headers}")
  if(GAQMD_CUDA STREQUAL "ON")
    message(FATAL_ERROR "GAQMD_CUDA=ON but OpenMM's CUDA platform headers are missing (${_gaqmd_openmm_cuda_headers})")
  endif()
  message(STATUS "gaqmd CUDA platform: kernels compile-checked; plugin skipped (no OpenMM CUDA headers)")
  return()
endif()
# The host glue compiles against CudaContext.h whether or not libOpenMMCUDA.so is there.
add_library(gaqmd_cuda_glue OBJECT ${_gaqmd_cuda}/src/CudaGaqKernels.cpp ${_gaqmd_cuda}/src/CudaGaqKernelFactory.cpp
            ${_gaqmd_kernel_cpp})
target_include_directories(gaqmd_cuda_glue PRIVATE ${OPENMM_DIR}/include/openmm/cuda ${OPENMM_DIR}/include/openmm/common
                           ${CUDAToolkit_INCLUDE_DIRS})
target_link_libraries(gaqmd_cuda_glue PUBLIC gaqmd_cuda_host gaqmd_openmm)
# CUDA 13 deprecates double4, which CudaContext.h uses.
target_compile_options(gaqmd_cuda_glue PRIVATE -Wall -Wextra -Wno-deprecated-declarations)
if(NOT EXISTS "${GAQMD_OPENMM_CUDA_LIBRARY}")
  if(GAQMD_CUDA STREQUAL "ON")
    message(FATAL_ERROR "GAQMD_CUDA=ON but libOpenMMCUDA.so was not found at ${GAQMD_OPENMM_CUDA_LIBRARY} "
                        "(pip install OpenMM-CUDA-12, or set GAQMD_OPENMM_CUDA_LIBRARY)")
  endif()
  message(STATUS "gaqmd CUDA platform: kernels and host glue compile-checked; plugin not linked "
                 "(no libOpenMMCUDA.so at ${GAQMD_OPENMM_CUDA_LIBRARY}; pip install OpenMM-CUDA-12)")
  return()
endif()
add_library(gaqmdCUDA SHARED $<TARGET_OBJECTS:gaqmd_cuda_glue>)
target_link_libraries(gaqmdCUDA PRIVATE gaqmd_cuda_host gaqmd_openmm "${GAQMD_OPENMM_CUDA_LIBRARY}")
# The driver API (libcuda.so) comes with the GPU driver; a build machine without one links against
# nothing and the symbols resolve at load time through libOpenMMCUDA.so's own dependency on it.
if(TARGET CUDA::cuda_driver)
  target_link_libraries(gaqmdCUDA PRIVATE CUDA::cuda_driver)
endif()
# libOpenMMCUDA.so and libOpenMM.so are found at run time where `import openmm` loaded them.
set_target_properties(gaqmdCUDA PROPERTIES INSTALL_RPATH "$ORIGIN")
install(TARGETS gaqmdCUDA LIBRARY DESTINATION gaqmd)
message(STATUS "gaqmd CUDA platform: plugin libgaqmdCUDA.so against ${GAQMD_OPENMM_CUDA_LIBRARY}")
