// Checking tensors against what tsnative.export recorded, before the model sees them.
#pragma once

#include <ATen/core/ivalue.h>

#include <variant>
#include <vector>

#include "tsnative/metadata.h"

namespace tsnative::detail {

// How strictly the recorded inputs bind a call.
enum class CheckLevel {
  // A TorchScript file: the arguments' dtypes and shapes (every dimension but a verified dynamic batch); inside
  // tuples and dicts, dtypes and ranks (an item's sizes were the example's: sequence lengths vary); lists are not
  // looked into (any length). The errors say how to turn the check off.
  kRecorded,
  // Code compiled for the recorded inputs (a .pt2 package, Backend::assumes_recorded_inputs): every recorded
  // tensor, inside lists too, in dtype and every size, and the dynamic batch the same size >= 1 in all of them.
  kCompiled,
};

// One recorded tensor, resolved once at load so that each call only compares numbers. It is an argument, or an item
// inside one: `path` leads to it (a tuple or list index, a dict key).
struct TensorCheck {
  size_t position;
  std::vector<std::variant<size_t, std::string>> path;
  std::string name;                      // as errors print it: "x", "pair[1]", "features[ids]"
  std::optional<c10::ScalarType> dtype;  // nullopt: a dtype name this build does not know; not checked
  std::string dtype_name;
  std::vector<int64_t> shape;  // -1: any size (the dynamic batch)
  bool sizes;                  // false: the rank is checked, not the sizes
};

struct InputChecks {
  CheckLevel level = CheckLevel::kRecorded;
  std::vector<TensorCheck> tensors;
};

InputChecks tensor_checks(const std::vector<InputSpec>& recorded, CheckLevel level);

// Throws InvalidType (dtype) or InvalidValue (rank, a size) naming the tensor, what was expected and what was given:
// "input 'x': expected float32 tensor of shape [N, 3, 224, 224], got float64 [2, 3, 224]". A value of another
// structure than recorded (a missing dict key, a shorter tuple) is left to the binding and the backend.
void check_tensors(const InputChecks& checks, const std::vector<c10::IValue>& inputs);

}  // namespace tsnative::detail
