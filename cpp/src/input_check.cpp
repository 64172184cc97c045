#include "input_check.h"

#include <c10/core/ScalarType.h>

#include "tsnative/errors.h"

namespace tsnative::detail {
namespace {

// NumPy-style names, as tsnative.export writes them (str(torch.float32) without "torch.").
std::string dtype_name(c10::ScalarType type) {
  switch (type) {
    case c10::kFloat:
      return "float32";
    case c10::kDouble:
      return "float64";
    case c10::kHalf:
      return "float16";
    case c10::kBFloat16:
      return "bfloat16";
    case c10::kLong:
      return "int64";
    case c10::kInt:
      return "int32";
    case c10::kShort:
      return "int16";
    case c10::kChar:
      return "int8";
    case c10::kByte:
      return "uint8";
    case c10::kBool:
      return "bool";
    default:
      return c10::toString(type);
  }
}

std::string dims_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    text += (i ? ", " : "") + (shape[i] < 0 ? std::string("N") : std::to_string(shape[i]));
  }
  return text + "]";
}

}  // namespace

void check_recorded_inputs(const std::vector<InputSpec>& recorded, const std::vector<c10::IValue>& inputs) {
  for (size_t i = 0; i < recorded.size() && i < inputs.size(); ++i) {
    const InputSpec& spec = recorded[i];
    if (spec.type != "Tensor" || !inputs[i].isTensor()) continue;
    const at::Tensor& tensor = inputs[i].toTensor();
    const std::string given_dtype = dtype_name(tensor.scalar_type());
    const std::vector<int64_t> given_shape = tensor.sizes().vec();
    bool shape_matches = given_shape.size() == spec.shape.size();
    for (size_t d = 0; shape_matches && d < spec.shape.size(); ++d) {
      shape_matches = spec.shape[d] < 0 || spec.shape[d] == given_shape[d];
    }
    if (given_dtype == spec.dtype && shape_matches) continue;
    const std::string message = "input '" + spec.name + "': expected " + spec.dtype + " tensor of shape " +
                                dims_text(spec.shape) + ", got " + given_dtype + " " + dims_text(given_shape) +
                                " (as recorded at export; check_inputs=false turns this check off)";
    if (given_dtype != spec.dtype) throw InvalidType(message);
    throw InvalidValue(message);
  }
}

}  // namespace tsnative::detail
