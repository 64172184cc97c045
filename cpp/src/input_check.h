// Checking tensors against what tsnative.export recorded, before the model sees them.
#pragma once

#include <ATen/core/ivalue.h>

#include <variant>
#include <vector>

#include "tsnative/metadata.h"

namespace tsnative::detail {

// One recorded tensor, resolved once at load so that each call only compares numbers. It is an argument, or an item
// inside one: `path` leads to it (a tuple or list index, a dict key).
struct TensorCheck {
  size_t position;
  std::vector<std::variant<size_t, std::string>> path;
  std::string name;                      // as errors print it: "x", "pair[1]", "features['ids']"
  std::optional<c10::ScalarType> dtype;  // nullopt: a dtype name this build does not know; not checked
  std::string dtype_name;
  std::vector<int64_t> shape;  // -1: any size
  bool optional;               // the error says how to turn the check off
};

// The checks for the recorded tensors: the arguments, the items of tuples and the values of dicts. With `required`
// (the model's code assumes the recorded inputs: Backend::assumes_recorded_inputs), the items of lists too, and
// the errors do not offer to turn the check off; otherwise lists are not looked into (a TorchScript list may have
// any length).
std::vector<TensorCheck> tensor_checks(const std::vector<InputSpec>& recorded, bool required);

// Throws InvalidType (dtype) or InvalidValue (rank, a fixed dimension) naming the argument, what was expected and
// what was given: "input 'x': expected float32 tensor of shape [N, 3, 224, 224], got float64 [2, 3, 224]". A value
// of another structure than recorded (a missing dict key, a shorter tuple) is left to the binding and the backend.
void check_tensors(const std::vector<TensorCheck>& checks, const std::vector<c10::IValue>& inputs);

}  // namespace tsnative::detail
