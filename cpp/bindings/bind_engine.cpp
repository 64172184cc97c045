#include <pybind11/stl.h>

#include "bindings.h"
#include "python_values.h"
#include "tsnative/engine.h"
#include "tsnative/timing.h"

namespace py = pybind11;

namespace tsnative::python {

void bind_engine(py::module_& module) {
  py::class_<Engine> engine_class(module, "Engine",
                                  "A TorchScript model loaded by the C++ core (see tsnative.Engine).");
  engine_class
      .def(py::init([](const std::string& path, const std::string& device, const std::string& method,
                       bool outputs_on_device, int threads, bool check_inputs, const std::string& sha256,
                       uint64_t max_archive_bytes, bool freeze, const std::string& onednn_fusion,
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
           py::arg("onednn_fusion") = "auto",
           py::arg("warmup_shapes") = std::vector<std::vector<std::vector<int64_t>>>{}, py::arg("precision") = "fp32",
           py::arg("cuda_graphs") = false, py::arg("pinned_transfers") = false, py::arg("executor_per_shape") = true)
      .def(
          "time",
          [](const Engine& engine, const py::args& inputs, int warmup, int iterations, int64_t batch_size) {
            const auto values = arguments_from_python(engine, inputs, {});
            py::gil_scoped_release release;  // the whole timed loop runs in C++
            return time_engine(engine, values, {warmup, iterations, batch_size});
          },
          // After *inputs, pybind11 makes these keyword-only.
          py::arg("warmup") = 10, py::arg("iterations") = 100, py::arg("batch_size") = 1,
          "time(*inputs, warmup=10, iterations=100, batch_size=1)\n"
          "Times the method on `inputs` in a C++ loop (the routine behind ts-infer --iters), GIL released: one first "
          "run, `warmup` untimed runs, then `iterations` timed ones; CUDA is synchronised before each clock reading. "
          "`batch_size` (items per run) only scales the throughput.")
      .def_property_readonly("path", &Engine::path, "The TorchScript file loaded.")
      .def_property_readonly(
          "device", [](const Engine& engine) { return engine.device().str(); },
          "The device the model runs on, e.g. \"cpu\" or \"cuda:0\".")
      .def_property_readonly(
          "method", [](const Engine& engine) { return engine.options().method; }, "The method predict() runs.")
      .def_property_readonly(
          "precision", [](const Engine& engine) { return engine.options().precision; },
          "The floating-point format the model runs in: \"fp32\", \"bf16\" or \"fp16\".")
      .def_property_readonly(
          "outputs_on_device", [](const Engine& engine) { return engine.options().outputs_on_device; },
          "Whether outputs stay on the device instead of coming back to the CPU.")
      .def_property_readonly("load_seconds", &Engine::load_seconds,
                             "Wall time of loading: file checks, torch::jit::load, eval(), optimisations and "
                             "placement on the device.")
      .def_property_readonly("schema", &Engine::signature,
                             "The method's arguments (names, types, defaults) and return type; str() gives one line.")
      .def_property_readonly("method_names", &Engine::method_names,
                             "Every method of the TorchScript module (forward and any @torch.jit.export ones).")
      .def_property_readonly("_metadata_json", &Engine::metadata_json)
      .def_property_readonly(
          "parameter_count", &Engine::parameter_count,
          "Elements in the module's parameters; 0 for a frozen module (see metadata[\"parameters\"]).")
      .def_property_readonly("optimizations", &Engine::optimizations,
                             "The optimisations applied at load, e.g. [\"freeze\", \"precision bf16\", "
                             "\"executor_per_shape x2\", \"warmup x2\", \"onednn_fusion x1 of 2 shapes\"], and "
                             "notes on those skipped: for people; fusion has the facts.")
      .def_property_readonly(
          "fusion",
          [](const Engine& engine) {
            const FusionReport report = engine.fusion();
            py::list trials;
            for (const auto& trial : report.trials) {
              py::dict item;
              item["shape"] = trial.shape;
              item["verified"] = trial.verified;
              item["kept"] = trial.kept;
              item["max_relative_diff"] = trial.max_relative_diff;
              item["fused_ms"] = trial.fused_ms;
              item["unfused_ms"] = trial.unfused_ms;
              item["reason"] = trial.reason;
              trials.append(item);
            }
            py::dict out;
            out["mode"] = fusion_mode_name(report.mode);
            out["tried"] = report.tried;
            out["skipped_reason"] = report.skipped_reason;
            out["trials"] = trials;
            out["disabled"] = report.disabled;
            return out;
          },
          "What oneDNN Graph fusion did, as facts: {mode, tried, skipped_reason, trials: [{shape, verified, kept, "
          "max_relative_diff, fused_ms, unfused_ms, reason}], disabled (why fusion was switched off while running, "
          "or None)}.");
  // predict() and __call__: tsnative.Engine subclasses this class so that a call goes straight to C++.
  bind_predict(engine_class);
}

}  // namespace tsnative::python
