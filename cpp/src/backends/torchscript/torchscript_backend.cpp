#include "backends/torchscript/torchscript_backend.h"

#include <torch/csrc/jit/api/module.h>

#include <chrono>

#include "backends/torchscript/call_shape.h"
#include "backends/torchscript/cuda_graphs.h"
#include "backends/torchscript/fused_executors.h"
#include "backends/torchscript/module_precision.h"
#include "backends/torchscript/optimize.h"
#include "backends/torchscript/shape_executors.h"
#include "backends/torchscript/torchscript_load.h"
#include "common/error_text.h"
#include "common/stopwatch.h"
#include "tsnative/errors.h"

namespace tsnative::detail {
namespace {

std::string method_list(const torch::jit::Module& module) {
  std::string out;
  for (const auto& method : module.get_methods()) out += (out.empty() ? "" : ", ") + method.name();
  return out.empty() ? "none" : out;
}

LoadStep applied(std::string name, std::vector<std::string> shapes, std::string note, std::string detail = "") {
  return {std::move(name), true, std::move(shapes), std::move(detail), std::move(note)};
}

std::vector<std::string> shape_texts(const std::vector<std::vector<c10::IValue>>& calls) {
  std::vector<std::string> texts;
  for (const auto& call : calls) {
    const auto shape = CallShape::of_arguments(call);
    texts.push_back(shape ? shape->text() : "(arguments other than tensors)");
  }
  return texts;
}

class TorchScriptBackend final : public Backend {
 public:
  TorchScriptBackend(const BackendRequest& request, LoadReport& report)
      : options_(request.options), device_(request.device), precision_(request.precision) {
    auto start = std::chrono::steady_clock::now();
    double check_s = 0.0;
    module_ = load_checked(request.path, request.bytes, device_, options_.max_archive_bytes.value_or(0), metadata_json_,
                           &check_s);
    report.timings.read_s += check_s;  // after open_backend's open and hash
    report.timings.deserialize_s = seconds_since(start) - check_s;
    start = std::chrono::steady_clock::now();
    module_.eval();
    for (const auto& parameter : module_.parameters()) report.parameter_count += parameter.numel();
    if (auto step = freeze_for_inference(module_, options_.freeze)) report.steps.push_back(std::move(*step));
    frozen_ = is_frozen(module_);
    if (precision_) {
      // After freezing, so batchnorm is folded into the convolutions in float32 before the weights are rounded.
      convert_module(module_, *precision_);
      report.steps.push_back(applied("precision", {}, "precision " + options_.precision, options_.precision));
    }
    method_ = module_.find_method(options_.method);
    if (!method_) {
      throw InvalidValue("method: '" + options_.method + "' is not a method of '" + request.path +
                         "' (it has: " + method_list(module_) + ")");
    }
    report.frozen = frozen_;
    report.fusion.mode = parse_fusion_mode(options_.onednn_fusion);
    report.timings.optimize_s = seconds_since(start);
  }

  const c10::FunctionSchema& schema() const override { return method_->function().getSchema(); }

  std::vector<std::string> method_names() const override {
    std::vector<std::string> names;
    for (const auto& method : module_.get_methods()) names.push_back(method.name());
    return names;
  }

  const std::string& metadata_json() const override { return metadata_json_; }

  void prepare(const std::vector<std::vector<c10::IValue>>& calls, LoadReport& report) override {
    const auto distinct = distinct_calls(calls);
    if (options_.executor_per_shape) specialise(distinct, report);
    warm_up(calls, report);
    set_up_fusion(distinct, report);
    if (options_.cuda_graphs) capture_cuda_graphs(distinct, report);
  }

  c10::IValue execute(std::vector<c10::IValue> inputs) const override {
    const FusionScope unfused(false);  // no fusion outside the fused executors (Engine::run holds NoGradGuard)
    if (cuda_graphs_) {
      if (auto replayed = cuda_graphs_->replay(inputs)) return std::move(*replayed);
    }
    return forward(std::move(inputs));
  }

  void refresh(LoadReport& report) const override {
    if (!fused_) return;
    report.fusion.trials = fused_->trials();
    report.fusion.disabled = fused_->disabled_reason();
  }

 private:
  // The method: fused where fusion was verified for the inputs' shapes, else unfused.
  c10::IValue forward(std::vector<c10::IValue> inputs) const {
    if (fused_) {
      return fused_->run(std::move(inputs), [this](std::vector<c10::IValue> in) { return unfused(std::move(in)); });
    }
    return unfused(std::move(inputs));
  }

  // The method without fusion: the executor specialised for the inputs' shapes when there is one.
  c10::IValue unfused(std::vector<c10::IValue> inputs) const {
    if (shape_executors_) {
      if (auto output = shape_executors_->run(inputs)) return std::move(*output);
    }
    return (*method_)(std::move(inputs));
  }

  // One executor per declared shape (see ShapeExecutors).
  void specialise(const std::vector<std::vector<c10::IValue>>& calls, LoadReport& report) {
    if (calls.empty()) return;
    shape_executors_ = std::make_unique<ShapeExecutors>(module_, *method_, calls, report.steps);
    if (shape_executors_->size() == 0) {
      shape_executors_.reset();
      return;
    }
    report.steps.push_back(applied("executor_per_shape", shape_texts(calls),
                                   "executor_per_shape x" + std::to_string(shape_executors_->size())));
  }

  // Runs each declared call three times: the profiling executor records shapes on the first call and optimises
  // on the next ones, so the optimised graph is in place before the first real call.
  void warm_up(const std::vector<std::vector<c10::IValue>>& calls, LoadReport& report) const {
    constexpr int kCallsPerShape = 3;
    const RunGuards guards;
    for (const auto& call : calls) {
      for (int i = 0; i < kCallsPerShape; ++i) {
        try {
          unfused(call);
        } catch (const std::exception& e) {
          const auto shape = CallShape::of_arguments(call);
          throw InvalidValue("warmup_shapes: the model failed on random inputs of shapes " +
                             (shape ? shape->text() : std::string("(as declared)")) + ": " + cause_of(e));
        }
      }
    }
    if (!calls.empty()) {
      report.steps.push_back(applied("warmup", shape_texts(calls), "warmup x" + std::to_string(calls.size())));
    }
  }

  // oneDNN Graph fusion, tried on each declared call (see FusedExecutors) where it can apply at all.
  void set_up_fusion(const std::vector<std::vector<c10::IValue>>& calls, LoadReport& report) {
    FusionReport& fusion = report.fusion;
    auto unavailable = fusion_unavailable(fusion.mode, device_, frozen_, *method_->graph());
    if (!unavailable && fusion.mode == FusionMode::kAuto && calls.empty()) {
      unavailable = "no warmup_shapes declared: \"auto\" tries fusion on declared shapes only";
    }
    if (unavailable) {
      fusion.skipped_reason = *unavailable;
      if (fusion.mode != FusionMode::kOff && device_.is_cpu()) {
        report.steps.push_back(
            {"onednn_fusion", false, {}, *unavailable, "onednn_fusion skipped (" + *unavailable + ")"});
      }
      return;
    }
    fusion.tried = true;
    // Fused kernels reorder sums: ~1e-6 of each output's scale in float32, more in the reduced formats. Tight on
    // purpose: a fused graph that computed erf GELU for tanh GELU was only ~1e-4 off.
    const double tolerance = precision_ ? 3e-2 : 5e-5;
    fused_ = std::make_unique<FusedExecutors>(module_, *method_, fusion.mode, tolerance);
    const RunGuards guards;
    for (const auto& call : calls)
      fused_->trial(call, [this](std::vector<c10::IValue> in) { return unfused(std::move(in)); });
    refresh(report);
    if (calls.empty()) {
      report.steps.push_back(applied("onednn_fusion", {}, "onednn_fusion (tried on each call shape's first call)"));
      return;
    }
    std::vector<std::string> kept;
    for (const auto& trial : fusion.trials) {
      if (trial.kept) kept.push_back(trial.shape);
    }
    const std::string note =
        "onednn_fusion x" + std::to_string(fused_->kept()) + " of " + std::to_string(calls.size()) + " shapes";
    report.steps.push_back({"onednn_fusion", !kept.empty(), kept, kept.empty() ? "not kept for any shape" : "", note});
  }

  // One CUDA graph per declared shape, after warm-up.
  void capture_cuda_graphs(const std::vector<std::vector<c10::IValue>>& calls, LoadReport& report) {
    const RunGuards guards;
    const auto run_call = [this](const std::vector<c10::IValue>& call) { return forward(call); };
    cuda_graphs_ = std::make_unique<CudaGraphs>(run_call, *method_->graph(), calls, device_, report.steps);
    if (cuda_graphs_->size() == 0) {
      cuda_graphs_.reset();
      return;
    }
    report.steps.push_back(
        applied("cuda_graphs", cuda_graphs_->shapes(), "cuda_graphs x" + std::to_string(cuda_graphs_->size())));
  }

  const EngineOptions& options_;  // the Engine's, which outlives its backend
  c10::Device device_;
  std::optional<at::ScalarType> precision_;
  torch::jit::Module module_;
  std::optional<torch::jit::Method> method_;
  std::string metadata_json_;
  bool frozen_ = false;
  std::unique_ptr<FusedExecutors> fused_;
  std::unique_ptr<ShapeExecutors> shape_executors_;
  std::unique_ptr<CudaGraphs> cuda_graphs_;
};

}  // namespace

std::unique_ptr<Backend> load_torchscript(const BackendRequest& request, LoadReport& report) {
  return std::make_unique<TorchScriptBackend>(request, report);
}

}  // namespace tsnative::detail
