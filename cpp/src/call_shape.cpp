#include "call_shape.h"

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

}  // namespace tsnative::detail
