# C++ tests (ctest). Engine tests need only gaqmd_engine; OpenMM tests add their own lines below.
foreach(_gaqmd_test test_engine_math test_engine_codebook test_engine_neighbors test_engine_parallel)
  add_executable(${_gaqmd_test} ${CMAKE_CURRENT_LIST_DIR}/${_gaqmd_test}.cpp)
  target_link_libraries(${_gaqmd_test} PRIVATE gaqmd_engine)
  target_compile_options(${_gaqmd_test} PRIVATE -Wall -Wextra)
  add_test(NAME ${_gaqmd_test} COMMAND ${_gaqmd_test})
endforeach()

# OpenMM plugin tests: the XML proxy and GaqForce validation (GAQMD_OPENMM_PLUGIN_DIR: cpp/openmm.cmake).
foreach(_gaqmd_test test_openmm_proxy test_openmm_validation)
  add_executable(${_gaqmd_test} ${CMAKE_CURRENT_LIST_DIR}/${_gaqmd_test}.cpp)
  target_link_libraries(${_gaqmd_test} PRIVATE gaqmd_openmm)
  target_compile_definitions(${_gaqmd_test} PRIVATE GAQMD_OPENMM_PLUGIN_DIR="${GAQMD_OPENMM_PLUGIN_DIR}")
  target_compile_options(${_gaqmd_test} PRIVATE -Wall -Wextra)
  add_test(NAME ${_gaqmd_test} COMMAND ${_gaqmd_test})
endforeach()
