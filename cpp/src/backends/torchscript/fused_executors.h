// oneDNN Graph fusion kept only where it has been shown to work (EngineOptions::onednn_fusion).
//
// LibTorch's oneDNN Graph fuser breaks real models (swin_t, vit_b_16, r3d_18, detection models, a traced GPT-2):
// the first call is right, the second compiles the fused graph and raises, and so does every later call. The same
// happens in Python with torch.jit.enable_onednn_fusion(True). So a fused graph is never trusted blindly: each call
// shape gets an executor of its own over a copy of the method's graph, which is run several times (the profiling
// executor fuses from its second run) and compared with the unfused graph's outputs before it is kept; in "auto"
// mode it is also timed against the unfused graph and kept only when faster. Should a kept executor still raise
// later, the call is answered by the unfused graph and fusion is switched off for the engine, for good.
#pragma once

#include <ATen/core/ivalue.h>
#include <torch/csrc/jit/api/compilation_unit.h>
#include <torch/csrc/jit/api/module.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "backends/torchscript/call_shape.h"
#include "tsnative/load_report.h"

namespace tsnative::detail {

class FusedExecutors {
 public:
  // Runs one call on the unfused path.
  using Runner = std::function<c10::IValue(std::vector<c10::IValue>)>;

  // `tolerance`: how far a fused output may be from the unfused one, relative to each tensor's scale.
  FusedExecutors(const torch::jit::Module& module, const torch::jit::Method& method, FusionMode mode, double tolerance);

  // Tries fusion for one call (complete arguments, as run() hands them to the method): a fused executor is run
  // kTrialCalls times on copies of `call` and compared with `unfused`'s output; in auto mode it is then timed
  // against `unfused` and kept only when faster. Returns `unfused`'s output on `call`.
  c10::IValue trial(const std::vector<c10::IValue>& call, const Runner& unfused);

  // Runs `inputs` fused when a kept executor matches them, else through `unfused`. In "on" mode a call shape not
  // seen before is tried first (up to kMaxShapes). A fused executor that raises is not retried: the call is run
  // unfused, and if that succeeds fusion is switched off for the engine (see disabled_reason()).
  c10::IValue run(std::vector<c10::IValue> inputs, const Runner& unfused) const;

  std::vector<FusionTrial> trials() const;
  // Why fusion was switched off at run time; nullopt while it is on.
  std::optional<std::string> disabled_reason() const;
  size_t kept() const;

  // The profiling executor records shapes on the first run and compiles the fused graph on the second: three
  // runs reach the fused graph twice.
  static constexpr int kTrialCalls = 3;
  // At most this many call shapes get a fused executor of their own (each holds compiled kernels).
  static constexpr size_t kMaxShapes = 8;

 private:
  struct Executor {
    CallShape shape;
    torch::jit::Function* function;  // owned by unit_
  };
  c10::IValue run_fused(const torch::jit::Function& function, std::vector<c10::IValue> inputs) const;
  // The trial itself, with trial_mutex_ held; nullopt (nothing run) when the shape was tried already or kMaxShapes
  // shapes have been.
  std::optional<c10::IValue> trial_locked(const std::vector<c10::IValue>& call, const Runner& unfused,
                                          bool time_it) const;

  c10::IValue self_;
  std::shared_ptr<torch::jit::Graph> graph_;
  FusionMode mode_;
  double tolerance_;
  // Mutable: "on" mode tries new call shapes from run(), which is const and concurrent.
  mutable torch::jit::CompilationUnit unit_;
  mutable std::shared_mutex mutex_;  // guards executors_, tried_ and trials_
  mutable std::vector<Executor> executors_;
  mutable std::vector<CallShape> tried_;
  mutable std::vector<FusionTrial> trials_;
  mutable std::mutex trial_mutex_;  // one trial at a time
  mutable std::atomic<bool> disabled_{false};
  mutable std::optional<std::string> disabled_reason_;  // written once, under mutex_
};

}  // namespace tsnative::detail
