#include "backends/torchscript/shape_executors.h"

namespace tsnative::detail {

ShapeExecutors::ShapeExecutors(const torch::jit::Module& module, torch::jit::Method& method,
                               const std::vector<std::vector<c10::IValue>>& calls, std::vector<LoadStep>& steps)
    : self_(module._ivalue()) {
  for (const auto& call : calls) {
    auto shape = CallShape::of(call);
    if (!shape) {
      const std::string reason = "the method takes arguments other than tensors";
      steps.push_back({"executor_per_shape", false, {}, reason, "executor_per_shape skipped (" + reason + ")"});
      return;
    }
    const std::string name = method.name() + "_shape" + std::to_string(executors_.size());
    executors_.push_back({*shape, unit_.create_function(name, method.graph()->copy())});
  }
}

std::optional<c10::IValue> ShapeExecutors::run(std::vector<c10::IValue>& inputs) const {
  for (const auto& executor : executors_) {
    if (!executor.shape.fits(inputs)) continue;
    executor.shape.conform(inputs);  // the layout it was specialised for: its guards then hold, no fallback
    torch::jit::Stack stack;
    stack.reserve(inputs.size() + 1);
    stack.push_back(self_);  // the method's graph takes the module as its first input
    stack.insert(stack.end(), std::make_move_iterator(inputs.begin()), std::make_move_iterator(inputs.end()));
    executor.function->run(stack);
    return std::move(stack.back());
  }
  return std::nullopt;
}

}  // namespace tsnative::detail
