// Inference optimisations applied to a module at load (EngineOptions: freeze, onednn_fusion, warmup_shapes).
#pragma once

#include <c10/core/Device.h>
#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/jit/api/module.h>

#include <optional>
#include <string>
#include <vector>

#include "tsnative/engine.h"
#include "tsnative/metadata.h"

namespace tsnative::detail {

// Freezes `module` when it still has parameters and `options.freeze` is set, keeping every method; a module
// freezing refuses (e.g. one that mutates its attributes in forward) stays as it is, and the returned note says
// why. Returns the optimisations applied, as Engine::optimizations() lists them.
std::vector<std::string> freeze_for_inference(torch::jit::Module& module, const EngineOptions& options);

// Whether the module's weights are constants (frozen at export or here): it has no parameters.
bool is_frozen(const torch::jit::Module& module);

// Whether a module on `device` is run with oneDNN Graph fusion (CPU, frozen, asked for); installs tsnative's
// fusion pass into LibTorch on first use. Appends "onednn_fusion", or why it was skipped, to `notes`.
bool use_onednn_fusion(const EngineOptions& options, c10::Device device, bool frozen, std::vector<std::string>& notes);

// While alive, TorchScript graphs optimised on this thread are fused with oneDNN Graph when `fuse` is true
// (Engine::run opens one per call, so only fused engines' graphs are fused).
class FusionScope {
 public:
  explicit FusionScope(bool fuse);
  ~FusionScope();
  FusionScope(const FusionScope&) = delete;
  FusionScope& operator=(const FusionScope&) = delete;

 private:
  bool previous_;
};

// The thread-local state a model runs in, for one call: InferenceMode, or NoGradGuard for a fused engine (oneDNN
// Graph's kernels ran ~8x slower under InferenceMode on ResNet-18 with torch 2.14), and the engine's FusionScope.
// Both keep autograd history off the outputs.
class RunGuards {
 public:
  explicit RunGuards(bool onednn_fusion);

 private:
  std::optional<c10::InferenceMode> inference_mode_;
  std::optional<c10::NoGradGuard> no_grad_;
  FusionScope fusion_;
};

// Zero tensors for each warm-up call: `shapes` per tensor argument, dtypes from the export metadata (float32
// when none is recorded). Throws InvalidValue for a shape list that does not fit the method's tensor arguments.
std::vector<std::vector<c10::IValue>> warmup_inputs(const std::vector<std::vector<std::vector<int64_t>>>& shapes,
                                                    const std::vector<InputSpec>& recorded, c10::Device device);

}  // namespace tsnative::detail
