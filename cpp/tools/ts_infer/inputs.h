// ts-infer's inputs: a .npy file, or random data of the recorded (or given) shape.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <string>
#include <vector>

#include "tsnative/metadata.h"

namespace tsnative::ts_infer {

struct InputRequest {
  std::optional<std::string> npy_path;        // --input
  std::optional<std::vector<int64_t>> shape;  // --shape
  std::optional<int64_t> batch;               // --batch
  uint64_t seed = 0;                          // --seed
};

struct PreparedInput {
  std::string name;
  at::Tensor tensor;
  std::string source;  // "file X.npy" or "random"
};

// "1x3x224x224" -> {1, 3, 224, 224}; throws InvalidValue for anything else.
std::vector<int64_t> parse_shape(const std::string& text);

// One tensor per recorded input (or a single 1x3x224x224 one when nothing is recorded); the first comes from the
// .npy file when one is given. Throws InvalidValue when a recorded input is not a tensor.
std::vector<PreparedInput> prepare_inputs(const std::vector<InputSpec>& recorded, const InputRequest& request);

}  // namespace tsnative::ts_infer
