#include "input_check.h"

#include "dtypes.h"
#include "tsnative/errors.h"

namespace tsnative::detail {
namespace {

bool shape_matches(const std::vector<int64_t>& expected, at::IntArrayRef given) {
  if (expected.size() != given.size()) return false;
  for (size_t d = 0; d < expected.size(); ++d) {
    if (expected[d] >= 0 && expected[d] != given[d]) return false;
  }
  return true;
}

}  // namespace

std::vector<TensorCheck> tensor_checks(const std::vector<InputSpec>& recorded) {
  std::vector<TensorCheck> checks;
  for (size_t i = 0; i < recorded.size(); ++i) {
    if (recorded[i].type != "Tensor") continue;
    checks.push_back({i, recorded[i].name, dtype_from_name(recorded[i].dtype), recorded[i].dtype, recorded[i].shape});
  }
  return checks;
}

void check_tensors(const std::vector<TensorCheck>& checks, const std::vector<c10::IValue>& inputs) {
  for (const TensorCheck& check : checks) {
    if (check.position >= inputs.size() || !inputs[check.position].isTensor()) continue;
    const at::Tensor& tensor = inputs[check.position].toTensor();
    const bool dtype_ok = !check.dtype || tensor.scalar_type() == *check.dtype;
    if (dtype_ok && shape_matches(check.shape, tensor.sizes())) continue;
    const std::string message = "input '" + check.name + "': expected " + check.dtype_name + " tensor of shape " +
                                shape_text(check.shape) + ", got " + dtype_name(tensor.scalar_type()) + " " +
                                shape_text(tensor.sizes().vec()) +
                                " (as recorded at export; the check_inputs option turns this check off: "
                                "check_inputs=False in Python, --no-input-check in ts-infer)";
    if (!dtype_ok) throw InvalidType(message);
    throw InvalidValue(message);
  }
}

}  // namespace tsnative::detail
