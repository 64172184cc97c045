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

void add_checks(const InputSpec& spec, size_t position, std::vector<std::variant<size_t, std::string>>& path,
                bool required, std::vector<TensorCheck>& checks) {
  if (spec.type == "Tensor") {
    checks.push_back({position, path, spec.name, dtype_from_name(spec.dtype), spec.dtype, spec.shape, !required});
    return;
  }
  if (spec.type == "list" && !required) return;
  for (size_t i = 0; i < spec.items.size(); ++i) {
    if (spec.type == "dict") {
      path.emplace_back(spec.keys[i]);
    } else {
      path.emplace_back(i);
    }
    add_checks(spec.items[i], position, path, required, checks);
    path.pop_back();
  }
}

// The value `check` is about, when `argument` has the recorded structure on the way to it; nullptr otherwise.
const c10::IValue* checked_value(const TensorCheck& check, const c10::IValue& argument, c10::IValue& held) {
  const c10::IValue* value = &argument;
  for (const auto& step : check.path) {
    if (const size_t* index = std::get_if<size_t>(&step)) {
      if (value->isTuple() && *index < value->toTupleRef().elements().size()) {
        value = &value->toTupleRef().elements()[*index];
      } else if (value->isList() && *index < value->toListRef().size()) {
        value = &value->toListRef()[*index];
      } else {
        return nullptr;
      }
    } else {
      if (!value->isGenericDict()) return nullptr;
      const c10::Dict<c10::IValue, c10::IValue> dict = value->toGenericDict();
      const auto found = dict.find(std::get<std::string>(step));
      if (found == dict.end()) return nullptr;
      held = found->value();  // a dict's entries are not addressable; the IValue shares the tensor
      value = &held;
    }
  }
  return value;
}

}  // namespace

std::vector<TensorCheck> tensor_checks(const std::vector<InputSpec>& recorded, bool required) {
  std::vector<TensorCheck> checks;
  std::vector<std::variant<size_t, std::string>> path;
  for (size_t i = 0; i < recorded.size(); ++i) add_checks(recorded[i], i, path, required, checks);
  return checks;
}

void check_tensors(const std::vector<TensorCheck>& checks, const std::vector<c10::IValue>& inputs) {
  c10::IValue held;
  for (const TensorCheck& check : checks) {
    if (check.position >= inputs.size()) continue;
    const c10::IValue* value = checked_value(check, inputs[check.position], held);
    if (value == nullptr || !value->isTensor()) continue;
    const at::Tensor& tensor = value->toTensor();
    const bool dtype_ok = !check.dtype || tensor.scalar_type() == *check.dtype;
    if (dtype_ok && shape_matches(check.shape, tensor.sizes())) continue;
    const std::string message = "input '" + check.name + "': expected " + check.dtype_name + " tensor of shape " +
                                shape_text(check.shape) + ", got " + dtype_name(tensor.scalar_type()) + " " +
                                shape_text(tensor.sizes().vec()) +
                                (check.optional ? " (as recorded at export; the check_inputs option turns this check "
                                                  "off: check_inputs=False in Python, --no-input-check in ts-infer)"
                                                : " (as recorded at export; the package was compiled for it)");
    if (!dtype_ok) throw InvalidType(message);
    throw InvalidValue(message);
  }
}

}  // namespace tsnative::detail
