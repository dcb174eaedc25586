// gaqmd._core: the thin pybind11 face of the engine and the OpenMM plugin (DESIGN §2, §5).
#include <pybind11/pybind11.h>

namespace py = pybind11;

namespace gaqmd::bindings {
void bindEngine(py::module_& m);  // engine_bindings.cpp
void bindOpenMM(py::module_& m);  // openmm_bindings.cpp
}  // namespace gaqmd::bindings

PYBIND11_MODULE(_core, m) {
  m.doc() = "gaqmd native engine and OpenMM plugin";
  m.attr("__version__") = "0.1.0";
  gaqmd::bindings::bindEngine(m);
  gaqmd::bindings::bindOpenMM(m);
}
