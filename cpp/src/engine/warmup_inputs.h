// The inputs an engine runs at load for each declared call (EngineOptions::warmup_shapes).
#pragma once

#include <ATen/core/ivalue.h>
#include <c10/core/Device.h>

#include <vector>

#include "tsnative/engine_options.h"
#include "tsnative/metadata.h"

namespace tsnative::detail {

// Inputs for each warm-up call: `shapes` per tensor argument, dtypes from the export metadata (float32 when none
// is recorded); floating-point tensors hold standard normal values from a private generator (zeros would hide
// wrong outputs of an optimised graph), others zeros. Throws InvalidValue for a shape list that does not fit the
// method's tensor arguments or that cannot be allocated.
std::vector<std::vector<c10::IValue>> warmup_inputs(const CallShapes& shapes, const std::vector<InputSpec>& recorded,
                                                    c10::Device device);

}  // namespace tsnative::detail
