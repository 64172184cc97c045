#include "tsnative/engine.h"

#include <ATen/Parallel.h>
#include <torch/csrc/jit/api/module.h>

#include <chrono>
#include <optional>

#include "call_shape.h"
#include "cuda_graphs.h"
#include "device.h"
#include "error_text.h"
#include "fused_executors.h"
#include "input_check.h"
#include "ivalue_tensors.h"
#include "model_load.h"
#include "optimize.h"
#include "precision.h"
#include "shape_executors.h"
#include "transfers.h"
#include "tsnative/errors.h"
#include "tsnative/metadata.h"

namespace tsnative {

struct Engine::Impl {
  std::string path;
  EngineOptions options;
  c10::Device device{c10::kCPU};
  torch::jit::Module module;
  std::optional<torch::jit::Method> method;
  MethodSignature signature;
  std::string metadata_json;
  std::vector<detail::TensorCheck> input_checks;  // from the metadata: what run() checks tensors against
  std::vector<std::string> optimizations;         // what was applied at load, in order
  std::optional<at::ScalarType> precision;        // the reduced floating-point type, when not float32
  FusionReport fusion;                            // mode and why fusion was not tried; trials live in `fused`
  std::unique_ptr<detail::FusedExecutors> fused;  // oneDNN Graph fusion where verified (see fused_executors.h)
  std::unique_ptr<detail::ShapeExecutors> shape_executors;
  std::unique_ptr<detail::CudaGraphs> cuda_graphs;
  int64_t parameter_count = 0;  // counted before freezing, which turns parameters into constants
  double load_seconds = 0.0;

  // Everything the constructor does but timing it; throws tsnative errors or whatever LibTorch raised.
  void load();

  // Inputs on the engine's device, floating-point tensors in its precision.
  void place_inputs(std::vector<c10::IValue>& inputs) const {
    for (auto& input : inputs) {
      if (!device.is_cpu()) input = detail::to_device_for_input(input, device, options.pinned_transfers);
      if (precision) input = detail::to_precision(input, *precision);
    }
  }

  // Warm-up calls as run() hands them to the method: complete argument lists, on the device, in the precision.
  std::vector<std::vector<c10::IValue>> prepared(std::vector<std::vector<c10::IValue>> calls) const {
    for (auto& call : calls) {
      bind_arguments(method->function().getSchema(), call);
      try {
        detail::check_tensors(input_checks, call);
      } catch (const Error& e) {
        throw InvalidValue(std::string("warmup_shapes: ") + e.what());
      }
      place_inputs(call);
    }
    return calls;
  }

  // The method on prepared inputs: fused where fusion was verified for their shapes, else unfused.
  c10::IValue forward(std::vector<c10::IValue> inputs) const {
    if (fused)
      return fused->run(std::move(inputs), [this](std::vector<c10::IValue> in) { return unfused(std::move(in)); });
    return unfused(std::move(inputs));
  }

  // The method without fusion: the executor specialised for the inputs' shapes when there is one.
  c10::IValue unfused(std::vector<c10::IValue> inputs) const {
    if (shape_executors) {
      if (auto output = shape_executors->run(inputs)) return std::move(*output);
    }
    return (*method)(std::move(inputs));
  }

  // Runs each declared call three times: the profiling executor records shapes on the first call and optimises
  // on the next ones, so the optimised graph is in place before the first real call.
  void warm_up(const std::vector<std::vector<c10::IValue>>& calls) {
    constexpr int kCallsPerShape = 3;
    const detail::RunGuards guards;
    for (const auto& call : calls) {
      for (int i = 0; i < kCallsPerShape; ++i) {
        try {
          unfused(call);
        } catch (const std::exception& e) {
          const auto shape = detail::CallShape::of_arguments(call);
          throw InvalidValue("warmup_shapes: the model failed on random inputs of shapes " +
                             (shape ? shape->text() : std::string("(as declared)")) + ": " + detail::cause_of(e));
        }
      }
    }
    if (!calls.empty()) optimizations.push_back("warmup x" + std::to_string(calls.size()));
  }

  // oneDNN Graph fusion, tried on each declared call (see FusedExecutors) where it can apply at all.
  void set_up_fusion(const std::vector<std::vector<c10::IValue>>& calls) {
    auto unavailable = detail::fusion_unavailable(fusion.mode, device, detail::is_frozen(module), *method->graph());
    if (!unavailable && fusion.mode == FusionMode::kAuto && calls.empty()) {
      unavailable = "no warmup_shapes declared: \"auto\" tries fusion on declared shapes only";
    }
    if (unavailable) {
      fusion.skipped_reason = *unavailable;
      if (fusion.mode != FusionMode::kOff && device.is_cpu()) {
        optimizations.push_back("onednn_fusion skipped (" + *unavailable + ")");
      }
      return;
    }
    fusion.tried = true;
    // Fused kernels reorder sums: ~1e-6 of each output's scale in float32, more in the reduced formats. Tight on
    // purpose: a fused graph that computed erf GELU for tanh GELU was only ~1e-4 off.
    const double tolerance = precision ? 3e-2 : 5e-5;
    fused = std::make_unique<detail::FusedExecutors>(module, *method, fusion.mode, tolerance);
    const detail::RunGuards guards;
    for (const auto& call : calls)
      fused->trial(call, [this](std::vector<c10::IValue> in) { return unfused(std::move(in)); });
    if (calls.empty()) {
      optimizations.emplace_back("onednn_fusion (tried on each call shape's first call)");
    } else {
      optimizations.push_back("onednn_fusion x" + std::to_string(fused->kept()) + " of " +
                              std::to_string(calls.size()) + " shapes");
    }
  }

  // One executor per declared shape (see detail::ShapeExecutors); `calls` as prepared() gives them, distinct.
  void specialise(const std::vector<std::vector<c10::IValue>>& calls) {
    if (calls.empty()) return;
    shape_executors = std::make_unique<detail::ShapeExecutors>(module, *method, calls, optimizations);
    if (shape_executors->size() > 0) {
      optimizations.push_back("executor_per_shape x" + std::to_string(shape_executors->size()));
    } else {
      shape_executors.reset();
    }
  }

  // One CUDA graph per declared shape, after warm-up; `calls` as for specialise().
  void capture_cuda_graphs(const std::vector<std::vector<c10::IValue>>& calls) {
    const detail::RunGuards guards;
    const auto run_call = [this](std::vector<c10::IValue> call) { return forward(std::move(call)); };
    cuda_graphs = std::make_unique<detail::CudaGraphs>(run_call, *method->graph(), calls, device, optimizations);
    if (cuda_graphs->size() > 0) {
      optimizations.push_back("cuda_graphs x" + std::to_string(cuda_graphs->size()));
    } else {
      cuda_graphs.reset();
    }
  }

  // Outputs in float32 and, unless asked to stay, on the host.
  c10::IValue finish_outputs(c10::IValue output) const {
    if (precision) output = detail::to_float32(output, *precision);
    if (device.is_cpu() || options.outputs_on_device) return output;
    return detail::to_host(output, device, options.pinned_transfers);
  }
};

namespace {

std::string method_list(const torch::jit::Module& module) {
  std::string out;
  for (const auto& method : module.get_methods()) out += (out.empty() ? "" : ", ") + method.name();
  return out.empty() ? "none" : out;
}

}  // namespace

Engine::Engine(const std::string& path, EngineOptions options) : impl_(std::make_unique<Impl>()) {
  const auto start = std::chrono::steady_clock::now();
  impl_->path = path;
  impl_->options = std::move(options);
  try {
    impl_->load();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    // Whatever LibTorch raised at load (an allocation, a conversion): one line, never a C++ backtrace.
    throw ModelLoadError(path, detail::cause_of(e));
  }
  impl_->load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void Engine::Impl::load() {
  device = detail::resolve_device(options.device);
  if (options.threads < 0) {
    throw InvalidValue("threads: expected a positive count or 0 (keep the current setting), got " +
                       std::to_string(options.threads));
  }
  precision = detail::parse_precision(options.precision);
  fusion.mode = parse_fusion_mode(options.onednn_fusion);  // refused before the file is read
  if (options.cuda_graphs && !device.is_cuda()) {
    throw InvalidValue("cuda_graphs: needs a CUDA device, got device \"" + options.device + "\"");
  }
  if (options.cuda_graphs && options.warmup_shapes.empty()) {
    throw InvalidValue("cuda_graphs: give warmup_shapes, the input shapes to capture a CUDA graph for (got none)");
  }

  module = detail::load_checked(path, device, options.sha256, options.max_archive_bytes, metadata_json);
  module.eval();
  for (const auto& parameter : module.parameters()) parameter_count += parameter.numel();
  optimizations = detail::freeze_for_inference(module, options);
  if (precision) {
    // After freezing, so batchnorm is folded into the convolutions in float32 before the weights are rounded.
    detail::convert_module(module, *precision);
    optimizations.push_back("precision " + options.precision);
  }
  method = module.find_method(options.method);
  if (!method) {
    throw InvalidValue("method: '" + options.method + "' is not a method of '" + path +
                       "' (it has: " + method_list(module) + ")");
  }
  signature = describe(method->function().getSchema());
  // The recorded inputs serve forward's input checks and warm-up dtypes; files with metadata this version cannot
  // read still load when neither is asked for.
  const bool checks = options.check_inputs && options.method == "forward";
  const bool warm_forward = !options.warmup_shapes.empty() && options.method == "forward";
  std::vector<InputSpec> recorded;
  if (checks || warm_forward) {
    try {
      recorded = recorded_inputs(metadata_json);
    } catch (const InvalidValue& e) {
      throw ModelLoadError(path, e.what());
    }
  }
  if (checks) input_checks = detail::tensor_checks(recorded);
  if (options.threads > 0) at::set_num_threads(options.threads);
  const auto warmup_calls = prepared(detail::warmup_inputs(options.warmup_shapes, recorded, device));
  const auto distinct = detail::distinct_calls(warmup_calls);
  if (options.executor_per_shape) specialise(distinct);
  warm_up(warmup_calls);
  set_up_fusion(distinct);
  if (options.cuda_graphs) capture_cuda_graphs(distinct);
  if (options.pinned_transfers && device.is_cuda()) optimizations.emplace_back("pinned_transfers");
}

Engine::~Engine() = default;

c10::IValue Engine::run(std::vector<c10::IValue> inputs) const {
  bind_arguments(schema(), inputs);
  detail::check_tensors(impl_->input_checks, inputs);
  try {
    // Thread-local state, so set here, on the thread that runs the model.
    const detail::RunGuards guards;
    impl_->place_inputs(inputs);
    if (impl_->cuda_graphs) {
      // A replay's outputs are the graph's buffers: finished (float32, to the host) while the graph is held, and
      // copied first only when they would otherwise stay on the device as they are.
      const auto copy_out = [this](const c10::IValue& buffers) {
        const bool kept = impl_->options.outputs_on_device;
        return impl_->finish_outputs(kept ? detail::map_tensors(buffers, [](const at::Tensor& t) { return t.clone(); })
                                          : buffers);
      };
      if (auto replayed = impl_->cuda_graphs->replay(inputs, copy_out)) return std::move(*replayed);
    }
    return impl_->finish_outputs(impl_->forward(std::move(inputs)));
  } catch (const Error&) {
    throw;
  } catch (const c10::Error& e) {
    // Placement, precision casts, the model, the copy of outputs to the host: one line, the full text kept.
    throw InferenceError(detail::cause_line(detail::message_of(e)), detail::message_of(e));
  } catch (const std::exception& e) {  // torch::jit::JITException: a `raise` inside the model; std::bad_alloc
    throw InferenceError(detail::cause_of(e), e.what());
  }
}

const MethodSignature& Engine::signature() const { return impl_->signature; }
const c10::FunctionSchema& Engine::schema() const { return impl_->method->function().getSchema(); }
c10::Device Engine::device() const { return impl_->device; }
const std::string& Engine::path() const { return impl_->path; }
const EngineOptions& Engine::options() const { return impl_->options; }
double Engine::load_seconds() const { return impl_->load_seconds; }

const std::string& Engine::metadata_json() const { return impl_->metadata_json; }

int64_t Engine::parameter_count() const { return impl_->parameter_count; }
const std::vector<std::string>& Engine::optimizations() const { return impl_->optimizations; }

FusionReport Engine::fusion() const {
  FusionReport report = impl_->fusion;
  if (impl_->fused) {
    report.trials = impl_->fused->trials();
    report.disabled = impl_->fused->disabled_reason();
  }
  return report;
}

std::vector<std::string> Engine::method_names() const {
  std::vector<std::string> names;
  for (const auto& method : impl_->module.get_methods()) names.push_back(method.name());
  return names;
}

}  // namespace tsnative
