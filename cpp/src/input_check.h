// Checking tensors against what tsnative.export recorded, before the model sees them.
#pragma once

#include <ATen/core/ivalue.h>

#include <vector>

#include "tsnative/metadata.h"

namespace tsnative::detail {

// Throws InvalidType (dtype) or InvalidValue (rank, a fixed dimension) naming the argument, what was expected and
// what was given: "input 'x': expected float32 tensor of shape [N, 3, 224, 224], got float64 [2, 3, 224]".
void check_recorded_inputs(const std::vector<InputSpec>& recorded, const std::vector<c10::IValue>& inputs);

}  // namespace tsnative::detail
