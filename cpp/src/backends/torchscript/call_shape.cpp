#include "backends/torchscript/call_shape.h"

#include <ATen/ops/empty_strided.h>

#include <algorithm>

#include "tsnative/metadata.h"

namespace tsnative::detail {

// The kind of a value that is not a tensor, when it is a plain scalar.
std::optional<CallShape::Kind> CallShape::scalar_kind(const c10::IValue& value) {
  if (value.isNone()) return Kind::None;
  if (value.isInt()) return Kind::Int;
  if (value.isDouble()) return Kind::Double;
  if (value.isBool()) return Kind::Bool;
  if (value.isString()) return Kind::String;
  return std::nullopt;
}

namespace {

const char* kind_name(CallShape::Kind kind) {
  switch (kind) {
    case CallShape::Kind::None:
      return "None";
    case CallShape::Kind::Int:
      return "int";
    case CallShape::Kind::Double:
      return "float";
    case CallShape::Kind::Bool:
      return "bool";
    case CallShape::Kind::String:
      return "str";
    case CallShape::Kind::Tensor:
      break;
  }
  return "Tensor";
}

}  // namespace

std::optional<CallShape> CallShape::of(const std::vector<c10::IValue>& call) { return build(call, false); }

std::optional<CallShape> CallShape::of_arguments(const std::vector<c10::IValue>& call) { return build(call, true); }

std::optional<CallShape> CallShape::build(const std::vector<c10::IValue>& call, bool scalars) {
  CallShape shape;
  for (const auto& value : call) {
    if (value.isTensor() && value.toTensor().defined()) {
      const at::Tensor& tensor = value.toTensor();
      shape.arguments_.push_back(
          {Kind::Tensor, tensor.sizes().vec(), tensor.strides().vec(), tensor.scalar_type(), tensor.device()});
    } else if (const auto kind = scalars ? scalar_kind(value) : std::nullopt) {
      shape.arguments_.push_back({*kind, {}, {}, at::kFloat, c10::kCPU});
    } else {
      return std::nullopt;
    }
  }
  return shape;
}

bool CallShape::matches(const std::vector<c10::IValue>& call) const { return same(call, true); }

bool CallShape::fits(const std::vector<c10::IValue>& call) const { return same(call, false); }

bool CallShape::same(const std::vector<c10::IValue>& call, bool strides) const {
  if (call.size() != arguments_.size()) return false;
  for (size_t i = 0; i < call.size(); ++i) {
    const Argument& expected = arguments_[i];
    if (expected.kind != Kind::Tensor) {
      if (scalar_kind(call[i]) != expected.kind) return false;
      continue;
    }
    if (!call[i].isTensor()) return false;
    const at::Tensor& tensor = call[i].toTensor();
    if (!tensor.defined() || tensor.sizes() != c10::IntArrayRef(expected.sizes) ||
        tensor.scalar_type() != expected.dtype || tensor.device() != expected.device ||
        (strides && tensor.strides() != c10::IntArrayRef(expected.strides))) {
      return false;
    }
  }
  return true;
}

void CallShape::conform(std::vector<c10::IValue>& call) const {
  for (size_t i = 0; i < call.size(); ++i) {
    const Argument& expected = arguments_[i];
    if (expected.kind != Kind::Tensor) continue;
    const at::Tensor& tensor = call[i].toTensor();
    if (tensor.strides() == c10::IntArrayRef(expected.strides)) continue;
    call[i] = at::empty_strided(expected.sizes, expected.strides, tensor.options()).copy_(tensor);
  }
}

std::vector<c10::IValue> dense(const std::vector<c10::IValue>& call) {
  std::vector<c10::IValue> out = call;
  for (auto& value : out) {
    if (!value.isTensor() || !value.toTensor().defined()) continue;
    const at::Tensor& tensor = value.toTensor();
    if (!tensor.is_non_overlapping_and_dense()) value = tensor.contiguous();
  }
  return out;
}

std::string CallShape::text() const {
  std::string text;
  for (const auto& tensor : arguments_) {
    const bool is_tensor = tensor.kind == Kind::Tensor;
    text += (text.empty() ? "" : ", ") + (is_tensor ? shape_text(tensor.sizes) : std::string(kind_name(tensor.kind)));
  }
  return text;
}

std::vector<std::vector<c10::IValue>> distinct_calls(std::vector<std::vector<c10::IValue>> calls) {
  std::vector<std::vector<c10::IValue>> distinct;
  std::vector<CallShape> seen;
  for (auto& call : calls) {
    const auto same = [&call](const CallShape& shape) { return shape.fits(call); };
    if (std::any_of(seen.begin(), seen.end(), same)) continue;
    if (auto shape = CallShape::of(call)) seen.push_back(std::move(*shape));
    distinct.push_back(std::move(call));
  }
  return distinct;
}

}  // namespace tsnative::detail
