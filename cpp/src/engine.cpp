#include "tsnative/engine.h"

#include <ATen/Parallel.h>
#include <torch/csrc/jit/api/module.h>

#include <chrono>
#include <optional>

#include "call_shape.h"
#include "cuda_graphs.h"
#include "device.h"
#include "error_text.h"
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
  bool onednn_fusion = false;                     // run() fuses this engine's graphs (see detail::RunGuards)
  std::optional<at::ScalarType> precision;        // the reduced floating-point type, when not float32
  std::unique_ptr<detail::ShapeExecutors> shape_executors;
  std::unique_ptr<detail::CudaGraphs> cuda_graphs;
  int64_t parameter_count = 0;  // counted before freezing, which turns parameters into constants
  double load_seconds = 0.0;

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
      place_inputs(call);
    }
    return calls;
  }

  // The method on prepared inputs: the executor specialised for their shapes when there is one.
  c10::IValue forward(std::vector<c10::IValue> inputs) const {
    if (shape_executors) {
      if (auto output = shape_executors->run(inputs)) return std::move(*output);
    }
    return (*method)(std::move(inputs));
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
    const detail::RunGuards guards(onednn_fusion);
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
  impl_->device = detail::resolve_device(impl_->options.device);
  if (impl_->options.threads < 0) {
    throw InvalidValue("threads: expected a positive count or 0 (keep the current setting), got " +
                       std::to_string(impl_->options.threads));
  }
  impl_->precision = detail::parse_precision(impl_->options.precision);
  if (impl_->options.cuda_graphs && !impl_->device.is_cuda()) {
    throw InvalidValue("cuda_graphs: needs a CUDA device, got device \"" + impl_->options.device + "\"");
  }
  if (impl_->options.cuda_graphs && impl_->options.warmup_shapes.empty()) {
    throw InvalidValue("cuda_graphs: give warmup_shapes, the input shapes to capture a CUDA graph for (got none)");
  }

  impl_->module = detail::load_checked(path, impl_->device, impl_->options.sha256, impl_->options.max_archive_bytes,
                                       impl_->metadata_json);
  impl_->module.eval();
  for (const auto& parameter : impl_->module.parameters()) impl_->parameter_count += parameter.numel();
  impl_->optimizations = detail::freeze_for_inference(impl_->module, impl_->options);
  if (impl_->precision) {
    // After freezing, so batchnorm is folded into the convolutions in float32 before the weights are rounded.
    detail::convert_module(impl_->module, *impl_->precision);
    impl_->optimizations.push_back("precision " + impl_->options.precision);
  }
  impl_->method = impl_->module.find_method(impl_->options.method);
  if (!impl_->method) {
    throw InvalidValue("method: '" + impl_->options.method + "' is not a method of '" + path +
                       "' (it has: " + method_list(impl_->module) + ")");
  }
  impl_->signature = describe(impl_->method->function().getSchema());
  // The recorded inputs serve forward's input checks and warm-up dtypes; files with metadata this version cannot
  // read still load when neither is asked for.
  const bool checks = impl_->options.check_inputs && impl_->options.method == "forward";
  const bool warm_forward = !impl_->options.warmup_shapes.empty() && impl_->options.method == "forward";
  std::vector<InputSpec> recorded;
  if (checks || warm_forward) {
    try {
      recorded = recorded_inputs(impl_->metadata_json);
    } catch (const InvalidValue& e) {
      throw ModelLoadError(path, e.what());
    }
  }
  if (checks) impl_->input_checks = detail::tensor_checks(recorded);
  if (impl_->options.threads > 0) at::set_num_threads(impl_->options.threads);
  impl_->onednn_fusion =
      detail::use_onednn_fusion(impl_->options, impl_->device, detail::is_frozen(impl_->module), impl_->optimizations);
  const auto warmup_calls = detail::warmup_inputs(impl_->options.warmup_shapes, recorded, impl_->device);
  const auto specialised_calls = detail::distinct_calls(impl_->prepared(warmup_calls));
  if (impl_->options.executor_per_shape) impl_->specialise(specialised_calls);
  warm_up(warmup_calls);
  if (impl_->options.cuda_graphs) impl_->capture_cuda_graphs(specialised_calls);
  if (impl_->options.pinned_transfers && impl_->device.is_cuda()) impl_->optimizations.emplace_back("pinned_transfers");
  impl_->load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

Engine::~Engine() = default;
Engine::Engine(Engine&&) noexcept = default;
Engine& Engine::operator=(Engine&&) noexcept = default;

c10::IValue Engine::run(std::vector<c10::IValue> inputs) const {
  bind_arguments(schema(), inputs);
  detail::check_tensors(impl_->input_checks, inputs);
  // Thread-local state, so set here, on the thread that runs the model.
  const detail::RunGuards guards(impl_->onednn_fusion);
  impl_->place_inputs(inputs);
  c10::IValue output;
  try {
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
    output = impl_->forward(std::move(inputs));
  } catch (const c10::Error& e) {
    throw InferenceError(detail::message_of(e));
  } catch (const std::exception& e) {  // torch::jit::JITException: a `raise` inside the model
    throw InferenceError(e.what());
  }
  return impl_->finish_outputs(std::move(output));
}

void Engine::warm_up(const std::vector<std::vector<c10::IValue>>& calls) {
  // The profiling executor records shapes on the first call and optimises (fuses) on the next ones: three calls
  // per shape leave the optimised graph in place before the first real call.
  constexpr int kCallsPerShape = 3;
  for (const auto& call : calls) {
    for (int i = 0; i < kCallsPerShape; ++i) {
      try {
        run(call);
      } catch (const Error& e) {
        throw InvalidValue(std::string("warmup_shapes: the model failed on zeros of these shapes: ") + e.what());
      }
    }
  }
  if (!calls.empty()) impl_->optimizations.push_back("warmup x" + std::to_string(calls.size()));
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

std::vector<std::string> Engine::method_names() const {
  std::vector<std::string> names;
  for (const auto& method : impl_->module.get_methods()) names.push_back(method.name());
  return names;
}

}  // namespace tsnative
