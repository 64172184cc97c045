#include "call_shape.h"

#include <algorithm>

#include "tsnative/metadata.h"

namespace tsnative::detail {

std::optional<CallShape> CallShape::of(const std::vector<c10::IValue>& call) {
  CallShape shape;
  for (const auto& value : call) {
    if (!value.isTensor() || !value.toTensor().defined()) return std::nullopt;
    const at::Tensor& tensor = value.toTensor();
    shape.tensors_.push_back({tensor.sizes().vec(), tensor.scalar_type(), tensor.device()});
  }
  return shape;
}

bool CallShape::matches(const std::vector<c10::IValue>& call) const {
  if (call.size() != tensors_.size()) return false;
  for (size_t i = 0; i < call.size(); ++i) {
    if (!call[i].isTensor()) return false;
    const at::Tensor& tensor = call[i].toTensor();
    const Tensor& expected = tensors_[i];
    if (!tensor.defined() || tensor.sizes() != c10::IntArrayRef(expected.sizes) ||
        tensor.scalar_type() != expected.dtype || tensor.device() != expected.device) {
      return false;
    }
  }
  return true;
}

std::string CallShape::text() const {
  std::string text;
  for (const auto& tensor : tensors_) text += (text.empty() ? "" : ", ") + shape_text(tensor.sizes);
  return text;
}

std::vector<std::vector<c10::IValue>> distinct_calls(std::vector<std::vector<c10::IValue>> calls) {
  std::vector<std::vector<c10::IValue>> distinct;
  std::vector<CallShape> seen;
  for (auto& call : calls) {
    const auto same = [&call](const CallShape& shape) { return shape.matches(call); };
    if (std::any_of(seen.begin(), seen.end(), same)) continue;
    if (auto shape = CallShape::of(call)) seen.push_back(std::move(*shape));
    distinct.push_back(std::move(call));
  }
  return distinct;
}

}  // namespace tsnative::detail
