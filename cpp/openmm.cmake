# gaqmd_openmm: GaqForce, its Reference/CPU kernels and the XML proxy (DESIGN §5). Static, linked
# into gaqmd._core; OpenMM itself is the wheel's libOpenMM.so (cpp/openmm_wheel.cmake).
set(_gaqmd_cpp "${CMAKE_CURRENT_LIST_DIR}")
add_library(gaqmd_openmm STATIC
  ${_gaqmd_cpp}/src/GaqForce.cpp
  ${_gaqmd_cpp}/src/GaqForceImpl.cpp
  ${_gaqmd_cpp}/reference/ReferenceGaqKernels.cpp
  ${_gaqmd_cpp}/reference/GaqKernelFactory.cpp
  ${_gaqmd_cpp}/serialization/Base64.cpp
  ${_gaqmd_cpp}/serialization/GaqForceProxy.cpp
  ${_gaqmd_cpp}/serialization/GaqForceXml.cpp
  ${_gaqmd_cpp}/serialization/XmlReader.cpp)
target_include_directories(gaqmd_openmm PUBLIC
  ${_gaqmd_cpp}/include ${_gaqmd_cpp}/reference ${_gaqmd_cpp}/serialization)
target_link_libraries(gaqmd_openmm PUBLIC OpenMM::OpenMM gaqmd_engine Threads::Threads)
target_compile_options(gaqmd_openmm PRIVATE -Wall -Wextra)

# OpenMM's platform plugins (libOpenMMCPU.so), for C++ tests that load the CPU platform.
set(GAQMD_OPENMM_PLUGIN_DIR "${OPENMM_DIR}/lib/plugins")
