// ts-infer's inputs: a .npy file, or random data of the recorded (or given) shape.
#pragma once

#include <ATen/core/ivalue.h>

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

// One tensor of the call, as the report prints it.
struct PreparedInput {
  std::string name;  // the argument's, or its path inside one: "pair[0]", "features['ids']"
  at::Tensor tensor;
  std::string source;  // "file X.npy" or "random"
};

struct PreparedCall {
  std::vector<c10::IValue> arguments;  // one per recorded input: tensors, or tuples, lists and dicts of them
  std::vector<PreparedInput> tensors;  // every tensor in them, in order
};

// "1x3x224x224" -> {1, 3, 224, 224}; throws InvalidValue for anything else.
std::vector<int64_t> parse_shape(const std::string& text);

// One argument per recorded input (or a single 1x3x224x224 tensor when nothing is recorded), random data of the
// recorded structure, dtypes and shapes (--batch sets dimension 0 of the top-level tensors and of nested ones
// recorded with a dynamic batch); the first argument comes from the .npy file when one is given. Throws
// InvalidValue when a recorded input holds something other than tensors.
PreparedCall prepare_inputs(const std::vector<InputSpec>& recorded, const InputRequest& request);

}  // namespace tsnative::ts_infer
