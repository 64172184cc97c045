#include "tsnative/engine.h"

#include <c10/core/GradMode.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <optional>
#include <shared_mutex>

#include "backends/backend.h"
#include "batching/batcher.h"
#include "common/error_text.h"
#include "common/stopwatch.h"
#include "device/device.h"
#include "engine/input_check.h"
#include "engine/precision.h"
#include "engine/warmup_inputs.h"
#include "tsnative/errors.h"
#include "tsnative/metadata.h"
#include "tsnative/runtime.h"

namespace tsnative {

struct Engine::Impl {
  std::string path;
  EngineOptions options;
  std::unique_ptr<detail::DeviceInterface> device;
  std::optional<at::ScalarType> precision;   // the reduced floating-point type, when not float32
  std::unique_ptr<detail::Backend> backend;  // null once closed
  mutable std::shared_mutex closing;         // run() holds it shared, close() exclusively
  // The process that loaded the engine. A forked child's copy of `closing` may count a reader that was the parent's
  // batching worker (mid-batch at the fork): no thread of the child would ever release it.
  int pid = static_cast<int>(getpid());
  // Kept from the backend so that they outlive close().
  std::optional<c10::FunctionSchema> schema;
  std::vector<std::string> method_names;
  std::string metadata_json;
  MethodSignature signature;
  detail::InputChecks input_checks;  // from the metadata: what run() checks tensors against
  LoadReport report;
  // Last, so that it is destroyed first: its worker thread runs the pipeline through the members above.
  std::unique_ptr<detail::Batcher> batcher;  // null when dynamic batching does not apply

  void load();
  void start_batching(const std::vector<InputSpec>& recorded);

  // Bind and check: complete positional arguments of the right types, tensors as the metadata recorded.
  void bind(std::vector<c10::IValue>& inputs) const {
    bind_arguments(*schema, inputs);
    detail::check_tensors(input_checks, inputs);
  }

  // Place: on the engine's device, floating-point tensors in its precision.
  void place(std::vector<c10::IValue>& inputs) const {
    for (auto& input : inputs) {
      input = device->to_device(std::move(input));
      if (precision) input = detail::to_precision(input, *precision);
    }
  }

  // Finish: floating-point outputs in float32 and, unless asked to stay, on the host.
  c10::IValue finish(c10::IValue output) const {
    if (precision) output = detail::to_float32(output, *precision);
    return options.outputs_on_device ? output : device->to_host(std::move(output));
  }

  // The pipeline after bind and check: place, execute, finish, under the closing lock. Run by run() for a call, or
  // by the batcher's thread for a batch of calls joined into one.
  c10::IValue run_bound(std::vector<c10::IValue> inputs) const;

  // The declared warm-up calls as run() hands them to the backend: bound, checked and placed.
  std::vector<std::vector<c10::IValue>> declared_calls(const std::vector<InputSpec>& recorded) const {
    auto calls = detail::warmup_inputs(options.warmup_shapes, recorded, device->device());
    for (auto& call : calls) {
      bind_arguments(*schema, call);
      try {
        detail::check_tensors(input_checks, call);
      } catch (const Error& e) {
        throw InvalidValue(std::string("warmup_shapes: ") + e.what());
      }
      place(call);
    }
    return calls;
  }
};

namespace {

constexpr int64_t kMaxBatchDelayUs = 60'000'000;

// Options checked before the file is read: a mistake costs nothing.
void check_options(const EngineOptions& options, bool cuda) {
  parse_fusion_mode(options.onednn_fusion);
  if (options.sha256 && options.sha256->empty()) {
    throw InvalidValue("sha256: expected 64 hexadecimal digits, got \"\" (leave it out for no pin)");
  }
  if (options.cuda_graphs && !cuda) {
    throw InvalidValue("cuda_graphs: needs a CUDA device, got device \"" + options.device + "\"");
  }
  if (options.cuda_graphs && options.warmup_shapes.empty()) {
    throw InvalidValue("cuda_graphs: give warmup_shapes, the input shapes to capture a CUDA graph for (got none)");
  }
  if (options.batch_delay_us > kMaxBatchDelayUs) {
    throw InvalidValue("batch_delay_us: expected at most " + std::to_string(kMaxBatchDelayUs) + " (a minute), got " +
                       std::to_string(options.batch_delay_us));
  }
}

// Why calls of this engine cannot be batched, or nullopt. Which arguments carry the batch is the metadata's fact:
// tsnative.export records -1 in dimension 0 of each tensor input whose batch it verified as dynamic.
std::optional<std::string> batching_unavailable(const EngineOptions& options, const std::vector<InputSpec>& recorded) {
  if (options.method != "forward") {
    return "the metadata records the inputs of forward, not of method '" + options.method + "'";
  }
  if (recorded.empty()) return "the file records no inputs (tsnative.export records them, with any dynamic batch)";
  for (const auto& input : recorded) {
    if (input.type != "Tensor") return "input '" + input.name + "' is a " + input.type + ", not a tensor";
    if (input.shape.empty() || input.shape.front() != -1) {
      return "input '" + input.name + "' has no dynamic batch (recorded " + shape_text(input.shape) +
             "; tsnative.export records -1 in dimension 0 when it verified other batch sizes)";
    }
    // A 1-D input's -1 is a length (an EmbeddingBag's ids and offsets), not a batch of rows: joining two calls'
    // offsets without shifting them would answer each with the other's bags.
    if (input.shape.size() < 2) {
      return "input '" + input.name + "' is 1-D (recorded " + shape_text(input.shape) +
             "): its size is a length, not a batch (tsnative.export marks the batch in tensors of rank 2 or more)";
    }
  }
  return std::nullopt;
}

// Reduced precision where the hardware emulates it: correct, but many times slower than float32, so said loudly.
std::optional<std::string> precision_warning(const std::string& precision, c10::Device device) {
  if (!device.is_cpu()) return std::nullopt;
  const RuntimeSettings runtime = runtime_settings();
  if (precision == "bf16" && !runtime.cpu_has_bf16) {
    return "bf16 on a CPU without bf16 instructions (AVX-512 BF16 or AMX; LibTorch uses " + runtime.cpu_capability +
           "): emulated, typically many times slower than fp32";
  }
  if (precision == "fp16")
    return "fp16 on the CPU: LibTorch's fp16 CPU kernels are typically many times slower than fp32";
  return std::nullopt;
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
  impl_->report.timings.total_s = detail::seconds_since(start);
}

void Engine::Impl::load() {
  device = detail::make_device_interface(options.device, options.pinned_transfers);
  precision = detail::parse_precision(options.precision);
  check_options(options, device->device().is_cuda());
  report.device = device->device().str();
  report.precision = options.precision;
  if (auto warning = precision_warning(options.precision, device->device())) report.warnings.push_back(*warning);

  backend = detail::open_backend({path, options, device->device(), precision, nullptr}, report);  // opens it
  schema = backend->schema();
  method_names = backend->method_names();
  metadata_json = backend->metadata_json();
  signature = describe(*schema);
  // The recorded inputs serve forward's input checks and warm-up dtypes; files with metadata this version cannot
  // read still load when neither is asked for.
  const bool checks = options.check_inputs && options.method == "forward";
  const bool warm_forward = !options.warmup_shapes.empty() && options.method == "forward";
  const bool batching = options.max_batch > 1 && options.method == "forward";
  std::vector<InputSpec> recorded;
  if (checks || warm_forward || batching) {
    try {
      recorded = recorded_inputs(metadata_json);
    } catch (const InvalidValue& e) {
      throw ModelLoadError(path, e.what());
    }
  }
  if (checks) {
    input_checks = detail::tensor_checks(
        recorded, backend->assumes_recorded_inputs() ? detail::CheckLevel::kCompiled : detail::CheckLevel::kRecorded);
  }

  const auto start = std::chrono::steady_clock::now();
  backend->prepare(declared_calls(recorded), report);
  if (options.pinned_transfers && device->device().is_cuda()) {
    report.steps.push_back({"pinned_transfers", true, {}, "", "pinned_transfers"});
  }
  start_batching(recorded);
  report.timings.prepare_s = detail::seconds_since(start);
}

void Engine::Impl::start_batching(const std::vector<InputSpec>& recorded) {
  report.batching.max_batch = options.max_batch;
  report.batching.delay_us = options.batch_delay_us;
  if (options.max_batch < 2) return;  // off: no step to report
  if (auto reason = batching_unavailable(options, recorded)) {
    report.steps.push_back({"dynamic_batching", false, {}, *reason, "dynamic_batching skipped (" + *reason + ")"});
    return;
  }
  detail::Batcher::Settings settings;
  settings.max_batch = options.max_batch;
  settings.delay = std::chrono::microseconds(options.batch_delay_us);
  // A batch is padded up to a batch size a CUDA graph was captured for, to replay it rather than run eagerly.
  if (options.cuda_graphs) settings.captured = options.warmup_shapes;
  batcher = std::make_unique<detail::Batcher>(
      [this](std::vector<c10::IValue> call) { return run_bound(std::move(call)); }, std::move(settings));
  report.batching.enabled = true;
  report.steps.push_back({"dynamic_batching",
                          true,
                          {},
                          "",
                          "dynamic_batching up to " + std::to_string(options.max_batch) + " rows, " +
                              std::to_string(options.batch_delay_us) + " us"});
}

Engine::~Engine() {
  // As close(): queued calls complete, and a call in progress on another thread (it holds `closing` shared)
  // finishes before the model goes.
  if (impl_) close();
}

c10::IValue Engine::run(std::vector<c10::IValue> inputs) const {
  impl_->bind(inputs);
  // Dynamic batching sits between bind-and-check and the rest: a batchable call waits for its batch here (without
  // the GIL, which the Python binding released), and the batcher's thread runs run_bound() once for the batch.
  if (impl_->batcher) {
    if (auto output = impl_->batcher->submit(inputs)) return std::move(*output);
  }
  return impl_->run_bound(std::move(inputs));
}

c10::IValue Engine::Impl::run_bound(std::vector<c10::IValue> inputs) const {
  const std::shared_lock open(closing);
  if (!backend) throw InvalidValue("run: this engine is closed (" + path + ")");
  try {
    // Thread-local, so set here, on the thread that runs the model: outputs carry no autograd history.
    const c10::NoGradGuard no_grad;
    place(inputs);
    return finish(backend->execute(std::move(inputs)));
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
const c10::FunctionSchema& Engine::schema() const { return *impl_->schema; }
std::vector<std::string> Engine::method_names() const { return impl_->method_names; }
c10::Device Engine::device() const { return impl_->device->device(); }
const std::string& Engine::path() const { return impl_->path; }
const EngineOptions& Engine::options() const { return impl_->options; }
double Engine::load_seconds() const { return impl_->report.timings.total_s; }
void Engine::synchronize() const { impl_->device->synchronize(); }
const std::string& Engine::metadata_json() const { return impl_->metadata_json; }
int64_t Engine::parameter_count() const { return impl_->report.parameter_count; }

LoadReport Engine::load_report() const {
  const std::shared_lock open(impl_->closing);  // close() writes the report
  LoadReport report = impl_->report;
  if (impl_->backend) impl_->backend->refresh(report);
  if (impl_->batcher) impl_->batcher->refresh(report.batching);
  return report;
}

void Engine::close() {
  // First the calls queued for a batch: they run, then the model is released.
  if (impl_->batcher) impl_->batcher->close();
  std::unique_ptr<detail::Backend> released;
  {
    std::unique_lock exclusive(impl_->closing, std::defer_lock);
    if (static_cast<int>(getpid()) == impl_->pid) exclusive.lock();  // a forked child has no other thread
    // The facts of a fusion in "on" mode stay readable after close.
    if (impl_->backend) impl_->backend->refresh(impl_->report);
    if (impl_->batcher) impl_->batcher->refresh(impl_->report.batching);
    impl_->report.batching.enabled = false;
    released = std::move(impl_->backend);
  }
}

bool Engine::closed() const {
  const std::shared_lock open(impl_->closing);
  return impl_->backend == nullptr;
}

std::vector<std::string> Engine::optimizations() const {
  const std::shared_lock open(impl_->closing);
  std::vector<std::string> lines;
  for (const auto& step : impl_->report.steps) lines.push_back(step.note);
  return lines;
}

FusionReport Engine::fusion() const { return load_report().fusion; }

}  // namespace tsnative
