// Inference optimisations applied to a module at load (EngineOptions: freeze, onednn_fusion, warmup_shapes).
#pragma once

#include <c10/core/Device.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/jit/api/module.h>

#include <optional>
#include <string>
#include <vector>

#include "tsnative/engine.h"
#include "tsnative/metadata.h"

namespace tsnative::detail {

// Freezes `module` unless it is frozen already (is_frozen) or `options.freeze` is off, keeping every method; a module
// freezing refuses (e.g. one that mutates its attributes in forward) stays as it is, and the returned note says
// why. Returns the optimisations applied, as Engine::optimizations() lists them.
std::vector<std::string> freeze_for_inference(torch::jit::Module& module, const EngineOptions& options);

// Whether the module's weights are constants in its methods' graphs (frozen at export or here): no graph reads a
// tensor or a submodule through prim::GetAttr. Decided from the graphs, not from the parameter count: a module
// whose weights are buffers has no parameters and is not frozen.
bool is_frozen(const torch::jit::Module& module);

// Why oneDNN Graph fusion cannot apply to a method's `graph` on `device` (mode off, not a CPU, no oneDNN in this
// LibTorch, not frozen, calls to other functions); nullopt when it can, after installing tsnative's fusion pass
// into LibTorch (once per process).
std::optional<std::string> fusion_unavailable(FusionMode mode, c10::Device device, bool frozen,
                                              const torch::jit::Graph& graph);

// While alive, TorchScript graphs optimised on this thread are fused with oneDNN Graph when `fuse` is true
// (only an engine's fused executors open one with true, so no other graph in the process is fused).
class FusionScope {
 public:
  explicit FusionScope(bool fuse);
  ~FusionScope();
  FusionScope(const FusionScope&) = delete;
  FusionScope& operator=(const FusionScope&) = delete;

 private:
  bool previous_;
};

// The thread-local state a model runs in, for one call: NoGradGuard (no autograd history on the outputs), not
// InferenceMode, whose outputs refuse in-place changes outside it (one contract for every engine: outputs are
// ordinary tensors; oneDNN Graph's kernels also ran ~8x slower under InferenceMode), and no fusion.
class RunGuards {
 public:
  RunGuards() : fusion_(false) {}

 private:
  c10::NoGradGuard no_grad_;
  FusionScope fusion_;
};

// Inputs for each warm-up call: `shapes` per tensor argument, dtypes from the export metadata (float32 when none
// is recorded); floating-point tensors hold standard normal values from a private generator (zeros would hide
// wrong outputs of an optimised graph), others zeros. Throws InvalidValue for a shape list that does not fit the
// method's tensor arguments or that cannot be allocated.
std::vector<std::vector<c10::IValue>> warmup_inputs(const std::vector<std::vector<std::vector<int64_t>>>& shapes,
                                                    const std::vector<InputSpec>& recorded, c10::Device device);

}  // namespace tsnative::detail
