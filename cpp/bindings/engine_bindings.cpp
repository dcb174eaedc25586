// pybind11 face of the native engine: gaqmd._core.Engine, ModelError, InputError (thin, no logic).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>

#include "gaqmd/engine/Engine.h"

namespace py = pybind11;

namespace gaqmd::bindings {
namespace {

Array toArray(const std::string& name, const py::array& value) {
  const py::dtype dtype = value.dtype();
  Array a;
  if (dtype.is(py::dtype::of<double>())) a.dtype = DType::Float64;
  else if (dtype.is(py::dtype::of<float>())) a.dtype = DType::Float32;
  else if (dtype.is(py::dtype::of<int32_t>())) a.dtype = DType::Int32;
  else if (dtype.is(py::dtype::of<uint8_t>())) a.dtype = DType::UInt8;
  else throw ModelError("model array '" + name + "' has unsupported dtype " + py::str(dtype).cast<std::string>());
  const py::array contiguous = py::array::ensure(value, py::array::c_style);
  for (py::ssize_t k = 0; k < contiguous.ndim(); ++k) a.shape.push_back(contiguous.shape(k));
  a.bytes.resize(contiguous.nbytes());
  if (!a.bytes.empty()) std::memcpy(a.bytes.data(), contiguous.data(), a.bytes.size());
  return a;
}

ModelData toModelData(const std::map<std::string, std::string>& attributes, const py::dict& arrays) {
  ModelData data;
  data.attributes = attributes;
  for (auto item : arrays) {
    const std::string name = py::cast<std::string>(item.first);
    data.arrays[name] = toArray(name, py::array::ensure(item.second));
  }
  return data;
}

using Positions = py::array_t<double, py::array::c_style | py::array::forcecast>;
using Species = py::array_t<int32_t, py::array::c_style | py::array::forcecast>;

/// Checks shapes; returns n and the box pointer (nullptr for None).
int checkArgs(const Positions& positions, const Species& species, const py::object& box, Positions& boxArray) {
  if (positions.ndim() != 2 || positions.shape(1) != 3)
    throw InputError("positions must have shape (n, 3), got ndim " + std::to_string(positions.ndim()));
  const int n = static_cast<int>(positions.shape(0));
  if (species.ndim() != 1 || species.shape(0) != n)
    throw InputError("species_index must have shape (" + std::to_string(n) + ",)");
  if (!box.is_none()) {
    boxArray = Positions::ensure(box);
    if (!boxArray || boxArray.ndim() != 2 || boxArray.shape(0) != 3 || boxArray.shape(1) != 3)
      throw InputError("box must be None or a (3, 3) array of box vectors (rows), Å");
  }
  return n;
}

py::tuple compute(const Engine& engine, const Positions& positions, const Species& species, const py::object& box,
                  int threads) {
  Positions boxArray;
  const int n = checkArgs(positions, species, box, boxArray);
  py::array_t<double> forces({n, 3});
  double energy;
  {
    py::gil_scoped_release release;
    energy = engine.compute(positions.data(), species.data(), n, box.is_none() ? nullptr : boxArray.data(),
                            forces.mutable_data(), threads);
  }
  return py::make_tuple(energy, forces);
}

py::dict intermediates(const Engine& engine, const Positions& positions, const Species& species,
                       const py::object& box) {
  Positions boxArray;
  const int n = checkArgs(positions, species, box, boxArray);
  const auto tensors =
      engine.intermediates(positions.data(), species.data(), n, box.is_none() ? nullptr : boxArray.data());
  py::dict out;
  for (const auto& [name, t] : tensors) {
    std::vector<py::ssize_t> shape(t.shape.begin(), t.shape.end());
    if (t.integer) {
      py::array_t<int64_t> a(shape);
      for (size_t k = 0; k < t.values.size(); ++k) a.mutable_data()[k] = static_cast<int64_t>(t.values[k]);
      out[py::str(name)] = a;
    } else {
      py::array_t<double> a(shape);
      if (!t.values.empty()) std::memcpy(a.mutable_data(), t.values.data(), 8 * t.values.size());
      out[py::str(name)] = a;
    }
  }
  return out;
}

}  // namespace

void bindEngine(py::module_& m) {
  static py::exception<ModelError> modelError(m, "ModelError", PyExc_ValueError);
  static py::exception<InputError> inputError(m, "InputError", PyExc_ValueError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ModelError& e) {
      py::set_error(modelError, e.what());
    } catch (const InputError& e) {
      py::set_error(inputError, e.what());
    }
  });
  py::class_<Engine>(m, "Engine", "Native engine: energy (eV) and forces (eV/Å) of a model description")
      .def(py::init([](const std::map<std::string, std::string>& attributes, const py::dict& arrays,
                       int radialTable) { return Engine(toModelData(attributes, arrays), radialTable); }),
           py::arg("attributes"), py::arg("arrays"), py::arg("radial_table") = 0,
           "radial_table > 0: tabulated radial MLP with that many knots (fp32/w4a32; docs/format.md "
           "radial_table_points); 0: as the description's attribute says (absent: exact)")
      .def_property_readonly("radial_table_points", &Engine::radialTablePoints,
                             "knots of the tabulated radial mode, 0 in the exact mode")
      .def_property_readonly("species", &Engine::species, "atomic numbers in model order")
      .def_property_readonly("cutoff", &Engine::cutoff, "cutoff radius, Å")
      .def("compute", &compute, py::arg("positions"), py::arg("species_index"), py::arg("box") = py::none(),
           py::arg("threads") = 1, "positions (n, 3) Å, species_index (n,), box (3, 3) Å or None -> (energy eV, forces (n, 3) eV/Å)")
      .def("intermediates", &intermediates, py::arg("positions"), py::arg("species_index"),
           py::arg("box") = py::none(), "debug: forward/backward intermediates by name (Engine.h)");
}

}  // namespace gaqmd::bindings
