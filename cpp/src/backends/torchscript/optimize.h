// Inference optimisations applied to a module at load (EngineOptions: freeze, onednn_fusion, warmup_shapes).
#pragma once

#include <c10/core/Device.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/jit/api/module.h>

#include <optional>
#include <string>
#include <vector>

#include "backends/torchscript/fusion_pass.h"
#include "tsnative/load_report.h"
#include "tsnative/metadata.h"

namespace tsnative::detail {

// Freezes `module` unless it is frozen already (is_frozen) or `freeze` is off, keeping every method; a module
// freezing refuses (e.g. one that mutates its attributes in forward) stays as it is, and the returned step says
// why. nullopt when there was nothing to do.
std::optional<LoadStep> freeze_for_inference(torch::jit::Module& module, bool freeze);

// Whether the module's weights are constants in its methods' graphs (frozen at export or here): no graph reads a
// tensor or a submodule through prim::GetAttr. Decided from the graphs, not from the parameter count: a module
// whose weights are buffers has no parameters and is not frozen.
bool is_frozen(const torch::jit::Module& module);

// Why oneDNN Graph fusion cannot apply to a method's `graph` on `device` (mode off, not a CPU, no oneDNN in this
// LibTorch, not frozen, calls to other functions); nullopt when it can, after installing tsnative's fusion pass
// into LibTorch (once per process, see fusion_pass.h).
std::optional<std::string> fusion_unavailable(FusionMode mode, c10::Device device, bool frozen,
                                              const torch::jit::Graph& graph);

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

}  // namespace tsnative::detail
