# OpenMM's headers and libOpenMM.so as shipped in the openmm wheel (site-packages/OpenMM.libs).
# The library is not installed with gaqmd: `import openmm` loads it before gaqmd._core is imported.
execute_process(
  COMMAND "${Python_EXECUTABLE}" -c "import os, openmm; print(os.path.join(os.path.dirname(os.path.dirname(openmm.__file__)), 'OpenMM.libs'))"
  OUTPUT_VARIABLE OPENMM_DIR OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _openmm_found)
if(NOT _openmm_found EQUAL 0 OR NOT EXISTS "${OPENMM_DIR}/include/OpenMM.h")
  message(FATAL_ERROR "OpenMM headers not found: install the openmm wheel into the build environment")
endif()
add_library(OpenMM::OpenMM SHARED IMPORTED)
set_target_properties(OpenMM::OpenMM PROPERTIES
  IMPORTED_LOCATION "${OPENMM_DIR}/lib/libOpenMM.so"
  INTERFACE_INCLUDE_DIRECTORIES "${OPENMM_DIR}/include")
