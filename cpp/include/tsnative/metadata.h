// Reading what tsnative.export recorded in a model file (the tsnative.json extra file, see Engine::metadata_json).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tsnative {

// One top-level argument of the exported method as recorded at export.
struct InputSpec {
  std::string name;
  std::string type;            // "Tensor", "tuple", "dict", "int"...
  std::string dtype;           // tensors only: "float32", "int64"...
  std::vector<int64_t> shape;  // tensors only; -1 marks a dimension of any size (a verified dynamic batch)
};

// The recorded inputs, in order; empty for a file without metadata (""). Throws InvalidValue when the text is not
// the JSON tsnative.export writes.
std::vector<InputSpec> recorded_inputs(const std::string& metadata_json);

}  // namespace tsnative
