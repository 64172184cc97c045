// One TorchScript executor per declared input shape (EngineOptions::executor_per_shape). A method's executor
// optimises for the first shapes it sees and handles later ones through guards and fallbacks: with oneDNN fusion,
// ResNet-18 at batch 8 ran 77 ms when batch 1 had come first and 65 ms when it was the executor's only shape.
// Copies of the method's graph share its constants (the weights), so each executor costs its compiled kernels only.
#pragma once

#include <ATen/core/ivalue.h>
#include <torch/csrc/jit/api/compilation_unit.h>
#include <torch/csrc/jit/api/module.h>

#include <optional>
#include <string>
#include <vector>

#include "backends/torchscript/call_shape.h"
#include "tsnative/load_report.h"

namespace tsnative::detail {

class ShapeExecutors {
 public:
  // One executor of `method`'s graph per call in `calls` (complete argument lists as run() hands them to the
  // method, distinct shapes); a call with arguments other than tensors gets none, and a skipped step in `steps`
  // says so.
  ShapeExecutors(const torch::jit::Module& module, torch::jit::Method& method,
                 const std::vector<std::vector<c10::IValue>>& calls, std::vector<LoadStep>& steps);

  // Runs the executor specialised for these tensors' sizes, which it then takes from `inputs` (copied into the
  // executor's layout where theirs differs); nullopt (and `inputs` untouched) when none is.
  std::optional<c10::IValue> run(std::vector<c10::IValue>& inputs) const;

  size_t size() const { return executors_.size(); }

 private:
  struct Executor {
    CallShape shape;
    torch::jit::Function* function;  // owned by unit_
  };
  c10::IValue self_;
  torch::jit::CompilationUnit unit_;
  std::vector<Executor> executors_;
};

}  // namespace tsnative::detail
