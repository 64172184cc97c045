#include <pybind11/stl.h>

#include "bindings.h"
#include "format/report_json.h"
#include "option_binding.h"
#include "python_values.h"
#include "tsnative/engine.h"
#include "tsnative/runtime.h"
#include "tsnative/timing.h"

namespace py = pybind11;

namespace tsnative::python {
namespace {

std::optional<std::vector<int64_t>> shape_of(py::handle value) {
  if (!PySequence_Check(value.ptr()) || PyUnicode_Check(value.ptr())) return std::nullopt;
  std::vector<int64_t> shape;
  for (const auto& size : py::reinterpret_borrow<py::sequence>(value)) {
    if (PyBool_Check(size.ptr()) || !PyIndex_Check(size.ptr())) return std::nullopt;
    try {
      shape.push_back(size.cast<int64_t>());
    } catch (const py::cast_error&) {
      throw InvalidValue("expected sizes that fit in 64 bits, got " + std::string(py::repr(size)));
    }
  }
  return shape;
}

// A JSON document of the core's serialiser as Python objects: the same keys as ts-infer --json, by construction.
py::object from_json(const nlohmann::json& document) {
  return py::module_::import("json").attr("loads")(document.dump());  // sys.modules holds json after the first
}

}  // namespace

namespace {

[[noreturn]] void never_loaded() {
  throw py::type_error(
      "tsnative.Engine: this engine was never loaded (its __init__ did not run, or raised before it loaded the "
      "model); create it with tsnative.Engine(path, ...)");
}

}  // namespace

Engine& loaded_engine(py::handle self) {
  if (!py::isinstance<Engine>(self))
    throw py::type_error("expected a tsnative.Engine, got " + py::repr(self).cast<std::string>());
  // pybind11 hands a method of such an object a pointer to memory that holds no engine: the holder says.
  auto* instance = reinterpret_cast<py::detail::instance*>(self.ptr());
  const auto held = instance->get_value_and_holder(py::detail::get_type_info(typeid(Engine)), false);
  if (!held || !held.holder_constructed()) never_loaded();
  auto* engine = held.value_ptr<Engine>();
  if (engine == nullptr) never_loaded();
  return *engine;
}

std::optional<CallShapes> OptionType<CallShapes>::load(py::handle value) {
  if (value.is_none()) return CallShapes();  // none declared
  if (!PySequence_Check(value.ptr()) || PyUnicode_Check(value.ptr())) return std::nullopt;
  CallShapes calls;
  for (const auto& call : py::reinterpret_borrow<py::sequence>(value)) {
    if (auto single = shape_of(call)) {
      calls.push_back({std::move(*single)});
      continue;
    }
    std::vector<std::vector<int64_t>> shapes;
    if (PySequence_Check(call.ptr()) && !PyUnicode_Check(call.ptr())) {
      for (const auto& shape : py::reinterpret_borrow<py::sequence>(call)) {
        auto parsed = shape_of(shape);
        if (!parsed) {
          shapes.clear();
          break;
        }
        shapes.push_back(std::move(*parsed));
      }
    }
    if (shapes.empty()) {
      throw InvalidType(
          "expected a shape as a tuple of ints, e.g. (1, 3, 224, 224), or one such tuple per tensor "
          "argument, got " +
          py::repr(call).cast<std::string>());
    }
    calls.push_back(std::move(shapes));
  }
  return calls;
}

void bind_engine(py::module_& module) {
  bind_options<EngineOptions>(module, "EngineOptions",
                              "Every option of an Engine, declared once in C++ (tsnative/engine_options.h).",
                              "Engine()");

  py::class_<Engine> engine_class(module, "Engine", "A model loaded by the C++ core (see tsnative.Engine).");
  engine_class
      .def(py::init([](const std::string& path, const EngineOptions& options) {
             // Loading can take seconds: let other Python threads run meanwhile.
             py::gil_scoped_release release;
             return std::make_unique<Engine>(path, options);
           }),
           py::arg("path"), py::arg("options") = EngineOptions())
      .def(
          "time",
          [](py::handle self, const py::args& inputs, int warmup, int iterations, int64_t batch_size) {
            const Engine& engine = loaded_engine(self);
            const auto values = call_arguments(engine, PySequence_Fast_ITEMS(inputs.ptr()),
                                               static_cast<Py_ssize_t>(inputs.size()), nullptr);
            py::gil_scoped_release release;  // the whole timed loop runs in C++
            return time_engine(engine, values, {warmup, iterations, batch_size});
          },
          // After *inputs, pybind11 makes these keyword-only.
          py::arg("warmup") = 10, py::arg("iterations") = 100, py::arg("batch_size") = 1,
          "Times the method on `inputs` in a C++ loop (the routine behind ts-infer --iters), GIL released: one first "
          "run, `warmup` untimed runs, then `iterations` timed ones; CUDA is synchronised before each clock reading. "
          "`batch_size` (items per run) only scales the throughput.")
      .def(
          "close",
          [](py::handle self) {
            Engine& engine = loaded_engine(self);
            py::gil_scoped_release release;
            engine.close();
          },
          "Releases the model (weights, executors, CUDA graphs) now; waits for calls in progress and first runs "
          "the calls waiting for a batch (max_batch). Later calls raise ValueError. `with Engine(...) as engine:` "
          "closes it on leaving the block.")
      .def_property_readonly(
          "closed", [](py::handle self) { return loaded_engine(self).closed(); }, "Whether close() was called.")
      .def_property_readonly(
          "path", [](py::handle self) { return loaded_engine(self).path(); }, "The model file loaded.")
      .def_property_readonly(
          "device", [](py::handle self) { return loaded_engine(self).device().str(); },
          "The device the model runs on, e.g. \"cpu\" or \"cuda:0\".")
      .def_property_readonly(
          "options", [](py::handle self) { return loaded_engine(self).options(); },
          "The options the engine was loaded with.")
      .def_property_readonly(
          "method", [](py::handle self) { return loaded_engine(self).options().method; }, "The method predict() runs.")
      .def_property_readonly(
          "precision", [](py::handle self) { return loaded_engine(self).options().precision; },
          "The floating-point format the model runs in: \"fp32\", \"bf16\" or \"fp16\".")
      .def_property_readonly(
          "outputs_on_device", [](py::handle self) { return loaded_engine(self).options().outputs_on_device; },
          "Whether outputs stay on the device instead of coming back to the CPU.")
      .def_property_readonly(
          "load_seconds", [](py::handle self) { return loaded_engine(self).load_seconds(); },
          "Wall time of loading: file checks, deserialisation, optimisations, warm-up "
          "(load_report['timings'] has each phase).")
      .def_property_readonly(
          "schema", [](py::handle self) { return loaded_engine(self).signature(); },
          "The method's arguments (names, types, defaults) and return type; str() gives one line.")
      .def_property_readonly(
          "method_names", [](py::handle self) { return loaded_engine(self).method_names(); },
          "Every method of the model (forward and any @torch.jit.export ones).")
      .def_property_readonly("_metadata_json", [](py::handle self) { return loaded_engine(self).metadata_json(); })
      .def_property_readonly(
          "parameter_count", [](py::handle self) { return loaded_engine(self).parameter_count(); },
          "Elements in the module's parameters; 0 for a frozen module (see metadata[\"parameters\"]).")
      .def_property_readonly(
          "load_report",
          [](py::handle self) { return from_json(detail::load_report_json(loaded_engine(self).load_report())); },
          "What the load did, as facts: {backend, device, precision, frozen, parameter_count, steps: [{name, "
          "applied, shapes, reason, note}], fusion, batching: {enabled, max_batch, delay_us, calls, "
          "unbatched_calls, batches, rows, padded_rows, largest_batch, retried_batches, queued, disabled}, "
          "warnings, timings: {read_s, deserialize_s, optimize_s, prepare_s, total_s}}. A snapshot: fusion in "
          "\"on\" mode adds trials as new shapes come, and batching counts calls as they run.")
      .def_property_readonly(
          "optimizations", [](py::handle self) { return loaded_engine(self).optimizations(); },
          "The load's steps for people, one line each (load_report['steps'][i]['note']), e.g. "
          "[\"freeze\", \"executor_per_shape x2\", \"warmup x2\", \"onednn_fusion x1 of 2 "
          "shapes\"].")
      .def_property_readonly(
          "fusion", [](py::handle self) { return from_json(detail::fusion_json(loaded_engine(self).fusion())); },
          "What oneDNN Graph fusion did, as facts: {mode, tried, skipped_reason, trials: [{shape, verified, kept, "
          "max_relative_diff, fused_ms, unfused_ms, reason}], disabled (why fusion was switched off while running, "
          "or None)}.");
  // predict() and __call__: tsnative.Engine subclasses this class so that a call goes straight to C++.
  bind_predict(engine_class);

  module.def(
      "configure_runtime",
      [](std::optional<int> threads, std::optional<int> interop_threads) {
        configure_runtime({threads, interop_threads});
      },
      py::kw_only(), py::arg("threads") = py::none(), py::arg("interop_threads") = py::none(),
      "Sets LibTorch's process-wide settings (see tsnative.configure).");
  module.def(
      "runtime_settings",
      [] {
        const RuntimeSettings settings = runtime_settings();
        py::dict out;
        out["threads"] = settings.threads;
        out["interop_threads"] = settings.interop_threads;
        out["cpu_capability"] = settings.cpu_capability;
        out["cpu_has_bf16"] = settings.cpu_has_bf16;
        out["fusion_pass_installed"] = settings.fusion_pass_installed;
        return out;
      },
      "The process-wide settings in effect (see tsnative.runtime).");
}

}  // namespace tsnative::python
