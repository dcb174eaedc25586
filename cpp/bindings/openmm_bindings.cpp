// The OpenMM half of gaqmd._core (thin: conversions only). A GaqForce is handed to Python as its
// XML (force_xml); openmm.XmlSerializer.deserialize turns that into an ordinary SWIG openmm.Force.
//
// Errors: bad inputs (model, particles, XML) raise ValueError with the C++ message; any other
// OpenMMException raises openmm.OpenMMException.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <optional>

#include "GaqForceProxy.h"
#include "GaqKernelFactory.h"
#include "gaqmd/GaqForce.h"
#include "gaqmd/engine/Engine.h"
#include "gaqmd/internal/GaqForceImpl.h"
#include "openmm/OpenMMException.h"

namespace py = pybind11;

namespace gaqmd::bindings {
namespace {

Array toArray(const std::string& name, const py::array& values) {
  Array array;
  if (py::isinstance<py::array_t<double>>(values)) array.dtype = DType::Float64;
  else if (py::isinstance<py::array_t<float>>(values)) array.dtype = DType::Float32;
  else if (py::isinstance<py::array_t<int32_t>>(values)) array.dtype = DType::Int32;
  else if (py::isinstance<py::array_t<uint8_t>>(values)) array.dtype = DType::UInt8;
  else
    throw py::value_error("array '" + name + "' has dtype " + py::str(values.dtype()).cast<std::string>() +
                          "; model arrays are little-endian float64, float32, int32 or uint8");
  py::array contiguous = py::array::ensure(values, py::array::c_style);
  for (py::ssize_t k = 0; k < contiguous.ndim(); ++k) array.shape.push_back(contiguous.shape(k));
  array.bytes.resize(contiguous.nbytes());
  if (!array.bytes.empty()) std::memcpy(array.bytes.data(), contiguous.data(), array.bytes.size());
  return array;
}

py::array toNumpy(const Array& array) {
  std::vector<py::ssize_t> shape(array.shape.begin(), array.shape.end());
  py::array out(py::dtype(dtypeName(array.dtype)), shape);  // owns fresh memory
  if (!array.bytes.empty()) std::memcpy(out.mutable_data(), array.bytes.data(), array.bytes.size());
  return out;
}

ModelData toModel(const std::map<std::string, std::string>& attributes, const py::dict& arrays) {
  ModelData model;
  model.attributes = attributes;
  for (const auto& [key, value] : arrays) {
    std::string name = py::cast<std::string>(key);
    if (!py::isinstance<py::array>(value))
      throw py::value_error("array '" + name + "' is not a numpy array");
    model.arrays.emplace(name, toArray(name, py::reinterpret_borrow<py::array>(value)));
  }
  return model;
}

void checkModel(const ModelData& model) {
  try {
    Engine engine(model);
  } catch (const ModelError& error) {
    throw py::value_error(std::string("invalid gaqmd model: ") + error.what());
  }
}

std::string forceXml(const std::map<std::string, std::string>& attributes, const py::dict& arrays,
                     const std::vector<int>& atomicNumbers, const std::optional<std::vector<int>>& subset,
                     bool periodic, bool checkModelFirst) {
  GaqForce force(toModel(attributes, arrays));
  if (checkModelFirst) checkModel(force.getModel());
  force.setAtomicNumbers(atomicNumbers);
  if (subset) {
    if (subset->empty()) throw py::value_error("subset is empty: give ML particle indices, or None for all");
    force.setSubset(*subset);
  }
  force.setUsesPeriodicBoundaryConditions(periodic);
  if (!atomicNumbers.empty()) {
    try {
      validateGaqForce(force, int(atomicNumbers.size()));
    } catch (const OpenMM::OpenMMException& error) {
      throw py::value_error(error.what());
    }
  }
  return gaqForceToXml(force);
}

py::tuple modelFromXml(const std::string& xml) {
  std::unique_ptr<GaqForce> force;
  try {
    force = gaqForceFromXml(xml);
  } catch (const OpenMM::OpenMMException& error) {
    throw py::value_error(error.what());
  }
  py::dict arrays;
  for (const auto& [name, array] : force->getModel().arrays) arrays[py::str(name)] = toNumpy(array);
  return py::make_tuple(py::cast(force->getModel().attributes), arrays);
}

void translateOpenMMExceptions() {
  static PyObject* type = py::object(py::module_::import("openmm").attr("OpenMMException")).release().ptr();
  py::register_exception_translator([](std::exception_ptr pointer) {
    try {
      if (pointer) std::rethrow_exception(pointer);
    } catch (const OpenMM::OpenMMException& error) {
      PyErr_SetString(type, error.what());
    }
  });
}

}  // namespace

void bindOpenMM(py::module_& m) {
  registerSerializationProxies();  // XmlSerializer knows GaqForce from the moment _core is imported
  registerKernelFactories();       // and the platforms that `import openmm` loaded can run it
  translateOpenMMExceptions();
  m.def("register_kernels", &registerKernelFactories,
        "Register the CalcGaqForce kernels with the loaded Reference and CPU platforms (idempotent).");
  m.def("available_platforms", &platformsWithGaqKernels,
        "Names of the loaded OpenMM platforms that can run GaqForce.");
  m.def("force_xml", &forceXml, py::arg("attributes"), py::arg("arrays"), py::arg("atomic_numbers"),
        py::arg("subset") = py::none(), py::arg("periodic") = false, py::arg("check_model") = true,
        "XML of a GaqForce (model description; one atomic number per System particle; ML subset or\n"
        "None for all; periodic flag). check_model builds the engine once to validate the model.\n"
        "With no atomic numbers (a model file) the particles are not checked. ValueError names the problem.");
  m.def("model_from_xml", &modelFromXml, py::arg("xml"),
        "(attributes, arrays) of the model in a GaqForce XML document (a model.gaq file's text).\n"
        "ValueError names the problem: not a GaqForce, unsupported version, corrupted array.");
}

}  // namespace gaqmd::bindings
