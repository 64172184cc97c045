#include <pybind11/stl.h>

#include "bindings.h"
#include "tsnative/signature.h"
#include "tsnative/timing.h"

namespace py = pybind11;

namespace tsnative::python {

void bind_signature(py::module_& module) {
  py::class_<ArgumentInfo>(module, "ArgumentInfo", "One argument of a TorchScript method.")
      .def_readonly("name", &ArgumentInfo::name)
      .def_readonly("type", &ArgumentInfo::type, "TorchScript annotation, e.g. 'Tensor'")
      .def_readonly("default", &ArgumentInfo::default_value, "printed default value, or None")
      .def("__repr__", [](const ArgumentInfo& argument) {
        std::string text = "ArgumentInfo(name='" + argument.name + "', type='" + argument.type + "'";
        if (argument.default_value) text += ", default=" + *argument.default_value;
        return text + ")";
      });

  py::class_<MethodSignature>(module, "MethodSignature", "What a TorchScript method takes and returns.")
      .def_readonly("name", &MethodSignature::name)
      .def_readonly("arguments", &MethodSignature::arguments, "arguments, without self")
      .def_readonly("returns", &MethodSignature::returns)
      .def("__str__", &MethodSignature::str)
      .def("__repr__", [](const MethodSignature& signature) { return "<MethodSignature " + signature.str() + ">"; });

  py::class_<LatencyStats>(module, "LatencyStats", "Latencies of a timed C++ loop (tsnative::time_engine).")
      .def_readonly("first_ms", &LatencyStats::first_ms)
      .def_readonly("min_ms", &LatencyStats::min_ms)
      .def_readonly("p50_ms", &LatencyStats::p50_ms)
      .def_readonly("p90_ms", &LatencyStats::p90_ms)
      .def_readonly("p99_ms", &LatencyStats::p99_ms)
      .def_readonly("max_ms", &LatencyStats::max_ms)
      .def_readonly("mean_ms", &LatencyStats::mean_ms)
      .def_readonly("throughput_per_s", &LatencyStats::throughput_per_s)
      .def_readonly("samples_ms", &LatencyStats::samples_ms);
}

}  // namespace tsnative::python
