#include "engine/precision.h"

#include "common/ivalue_tensors.h"
#include "tsnative/errors.h"

namespace tsnative::detail {

std::optional<at::ScalarType> parse_precision(const std::string& precision) {
  if (precision == "fp32") return std::nullopt;
  if (precision == "fp16") return at::kHalf;
  if (precision == "bf16") return at::kBFloat16;
  throw InvalidValue("precision: expected \"fp32\", \"fp16\" or \"bf16\", got \"" + precision + "\"");
}

c10::IValue to_precision(const c10::IValue& value, at::ScalarType dtype) {
  return map_tensors(
      value, [dtype](const at::Tensor& tensor) { return tensor.is_floating_point() ? tensor.to(dtype) : tensor; });
}

c10::IValue to_float32(const c10::IValue& value, at::ScalarType dtype) {
  return map_tensors(value, [dtype](const at::Tensor& tensor) {
    return tensor.scalar_type() == dtype ? tensor.to(at::kFloat) : tensor;
  });
}

}  // namespace tsnative::detail
