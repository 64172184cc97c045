#include <pybind11/stl.h>

#include "bindings.h"
#include "python_values.h"
#include "tsnative/engine.h"
#include "tsnative/timing.h"

namespace py = pybind11;

namespace tsnative::python {

namespace {

constexpr const char* kPredictDoc = R"doc(Runs the method. Positional and keyword arguments follow :attr:`schema`.

Tensors and numpy arrays (also inside tuples, lists and dicts; numpy arrays share memory where torch can wrap
them), and int/float/bool/str/None. The GIL is released while the model runs.

Raises ``TypeError`` naming the expected and given types for a wrong argument count or type, and
:class:`tsnative.InferenceError` when the model itself fails. A failed call leaves the engine usable.)doc";

py::object run_released(const Engine& engine, std::vector<c10::IValue> inputs) {
  c10::IValue output;
  {
    py::gil_scoped_release release;  // the forward runs without the GIL: other threads go on
    output = engine.run(std::move(inputs));
  }
  return output_to_python(std::move(output));
}

py::object predict(const Engine& engine, const py::args& args, const py::kwargs& kwargs) {
  return run_released(engine, arguments_from_python(engine, args, kwargs));
}

// The most common call, one positional argument, without the args tuple and kwargs dict pybind11 builds for the
// general form: two allocations per call, which Python's garbage collector also counts (its collections were 7%
// of a tiny model's call profile). Measured on a tiny module: Python's cost per call went from ~0.65 to ~0.5 us.
py::object predict_one(const Engine& engine, py::handle input) {
  std::vector<c10::IValue> inputs;
  inputs.push_back(argument_from_python(engine, 0, input));
  return run_released(engine, std::move(inputs));
}

}  // namespace

void bind_engine(py::module_& module) {
  py::class_<Engine>(module, "Engine", "A TorchScript model loaded by the C++ core (see tsnative.Engine).")
      .def(py::init([](const std::string& path, const std::string& device, const std::string& method,
                       bool outputs_on_device, int threads, bool check_inputs, const std::string& sha256,
                       uint64_t max_archive_bytes, bool freeze, bool onednn_fusion,
                       std::vector<std::vector<std::vector<int64_t>>> warmup_shapes, const std::string& precision,
                       bool cuda_graphs, bool pinned_transfers, bool executor_per_shape) {
             EngineOptions options;
             options.device = device;
             options.method = method;
             options.outputs_on_device = outputs_on_device;
             options.threads = threads;
             options.check_inputs = check_inputs;
             options.sha256 = sha256;
             options.max_archive_bytes = max_archive_bytes;
             options.freeze = freeze;
             options.onednn_fusion = onednn_fusion;
             options.warmup_shapes = std::move(warmup_shapes);
             options.precision = precision;
             options.cuda_graphs = cuda_graphs;
             options.pinned_transfers = pinned_transfers;
             options.executor_per_shape = executor_per_shape;
             // Loading can take seconds: let other Python threads run meanwhile.
             py::gil_scoped_release release;
             return std::make_unique<Engine>(path, std::move(options));
           }),
           py::arg("path"), py::kw_only(), py::arg("device") = "cpu", py::arg("method") = "forward",
           py::arg("outputs_on_device") = false, py::arg("threads") = 0, py::arg("check_inputs") = true,
           py::arg("sha256") = "", py::arg("max_archive_bytes") = 0, py::arg("freeze") = true,
           py::arg("onednn_fusion") = true, py::arg("warmup_shapes") = std::vector<std::vector<std::vector<int64_t>>>{},
           py::arg("precision") = "fp32", py::arg("cuda_graphs") = false, py::arg("pinned_transfers") = false,
           py::arg("executor_per_shape") = true)
      // tsnative.Engine subclasses this class so that a predict() call goes straight here: a Python wrapper
      // method cost ~0.3 us per call, 10% of a tiny model's whole call.
      .def("predict", &predict_one, kPredictDoc)
      .def("predict", &predict, kPredictDoc)
      .def("__call__", &predict_one, kPredictDoc)
      .def("__call__", &predict, kPredictDoc)
      .def(
          "time",
          [](const Engine& engine, const py::tuple& inputs, int warmup, int iterations, int64_t batch_size) {
            const auto values = arguments_from_python(engine, py::reinterpret_borrow<py::args>(inputs), {});
            py::gil_scoped_release release;  // the whole timed loop runs in C++
            return time_engine(engine, values, {warmup, iterations, batch_size});
          },
          py::arg("inputs"), py::kw_only(), py::arg("warmup") = 10, py::arg("iterations") = 100,
          py::arg("batch_size") = 1, "Times run() in a C++ loop (tsnative::time_engine).")
      .def_property_readonly("path", &Engine::path)
      .def_property_readonly("device", [](const Engine& engine) { return engine.device().str(); })
      .def_property_readonly("method", [](const Engine& engine) { return engine.options().method; })
      .def_property_readonly("precision", [](const Engine& engine) { return engine.options().precision; })
      .def_property_readonly("outputs_on_device",
                             [](const Engine& engine) { return engine.options().outputs_on_device; })
      .def_property_readonly("load_seconds", &Engine::load_seconds)
      .def_property_readonly("_signature", &Engine::signature)
      .def_property_readonly("method_names", &Engine::method_names)
      .def_property_readonly("_metadata_json", &Engine::metadata_json)
      .def_property_readonly("parameter_count", &Engine::parameter_count)
      .def_property_readonly("optimizations", &Engine::optimizations);
}

}  // namespace tsnative::python
