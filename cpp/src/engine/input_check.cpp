#include "engine/input_check.h"

#include "format/dtypes.h"
#include "tsnative/errors.h"

namespace tsnative::detail {
namespace {

bool shape_matches(const TensorCheck& check, at::IntArrayRef given) {
  if (check.shape.size() != given.size()) return false;
  if (!check.sizes) return true;
  for (size_t d = 0; d < check.shape.size(); ++d) {
    if (check.shape[d] >= 0 && check.shape[d] != given[d]) return false;
  }
  return true;
}

void add_checks(const InputSpec& spec, size_t position, std::vector<std::variant<size_t, std::string>>& path,
                CheckLevel level, std::vector<TensorCheck>& checks) {
  const bool compiled = level == CheckLevel::kCompiled;
  if (spec.type == "Tensor") {
    const bool sizes = compiled || path.empty();
    checks.push_back({position, path, spec.name, dtype_from_name(spec.dtype), spec.dtype, spec.shape, sizes});
    return;
  }
  if (spec.type == "list" && !compiled) return;
  for (size_t i = 0; i < spec.items.size(); ++i) {
    if (spec.type == "dict") {
      path.emplace_back(spec.keys[i]);
    } else {
      path.emplace_back(i);
    }
    add_checks(spec.items[i], position, path, level, checks);
    path.pop_back();
  }
}

// The value `check` is about, when `argument` has the recorded structure on the way to it; nullptr otherwise. It
// points into `argument`, which owns it: no copy on the per-call path.
const c10::IValue* checked_value(const TensorCheck& check, const c10::IValue& argument) {
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
      value = &found->value();
    }
  }
  return value;
}

std::string shape_words(const TensorCheck& check) {
  if (check.sizes) return "of shape " + shape_text(check.shape);
  return "of rank " + std::to_string(check.shape.size());
}

}  // namespace

InputChecks tensor_checks(const std::vector<InputSpec>& recorded, CheckLevel level) {
  InputChecks checks{level, {}};
  std::vector<std::variant<size_t, std::string>> path;
  for (size_t i = 0; i < recorded.size(); ++i) add_checks(recorded[i], i, path, level, checks.tensors);
  return checks;
}

void check_tensors(const InputChecks& checks, const std::vector<c10::IValue>& inputs) {
  const bool compiled = checks.level == CheckLevel::kCompiled;
  const char* why = compiled ? " (as recorded at export; the package was compiled for it)"
                             : " (as recorded at export; the check_inputs option turns this check off: "
                               "check_inputs=False in Python, --no-input-check in ts-infer)";
  std::optional<int64_t> batch;             // kCompiled: the dynamic batch's size in this call, from its first tensor
  const std::string* batch_from = nullptr;  // that tensor's name
  for (const TensorCheck& check : checks.tensors) {
    if (check.position >= inputs.size()) continue;
    const c10::IValue* value = checked_value(check, inputs[check.position]);
    if (value == nullptr || !value->isTensor()) continue;
    const at::Tensor& tensor = value->toTensor();
    const bool dtype_ok = !check.dtype || tensor.scalar_type() == *check.dtype;
    if (!dtype_ok || !shape_matches(check, tensor.sizes())) {
      const std::string message = "input '" + check.name + "': expected " + check.dtype_name + " tensor " +
                                  shape_words(check) + ", got " + dtype_name(tensor.scalar_type()) + " " +
                                  shape_text(tensor.sizes().vec()) + why;
      if (!dtype_ok) throw InvalidType(message);
      throw InvalidValue(message);
    }
    if (!compiled) continue;
    // The package's kernels size every batch-sized buffer by one dynamic dimension (torch.export's Dim("batch",
    // min=1)): tensors that disagree on it would be read past their end.
    for (size_t d = 0; d < check.shape.size(); ++d) {
      if (check.shape[d] >= 0) continue;
      const int64_t size = tensor.size(static_cast<int64_t>(d));
      if (!batch) {
        if (size < 1) {
          throw InvalidValue("input '" + check.name + "': expected a batch of 1 or more, got " +
                             shape_text(tensor.sizes().vec()) + why);
        }
        batch = size;
        batch_from = &check.name;
      } else if (size != *batch) {
        throw InvalidValue("input '" + check.name + "': expected the batch size of input '" + *batch_from + "' (" +
                           std::to_string(*batch) + "), got " + shape_text(tensor.sizes().vec()) + why);
      }
    }
  }
}

}  // namespace tsnative::detail
