// Checking tensors against what tsnative.export recorded, before the model sees them.
#pragma once

#include <ATen/core/ivalue.h>

#include <vector>

#include "tsnative/metadata.h"

namespace tsnative::detail {

// One recorded tensor argument, resolved once at load so that each call only compares numbers.
struct TensorCheck {
  size_t position;
  std::string name;
  std::optional<c10::ScalarType> dtype;  // nullopt: a dtype name this build does not know; not checked
  std::string dtype_name;
  std::vector<int64_t> shape;  // -1: any size
};

std::vector<TensorCheck> tensor_checks(const std::vector<InputSpec>& recorded);

// Throws InvalidType (dtype) or InvalidValue (rank, a fixed dimension) naming the argument, what was expected and
// what was given: "input 'x': expected float32 tensor of shape [N, 3, 224, 224], got float64 [2, 3, 224]".
void check_tensors(const std::vector<TensorCheck>& checks, const std::vector<c10::IValue>& inputs);

}  // namespace tsnative::detail
