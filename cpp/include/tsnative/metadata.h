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

// "[N, 3, 224, 224]": a shape as errors and reports print it; -1 (any size) prints as N.
std::string shape_text(const std::vector<int64_t>& shape);

// The file's tsnative.json ("" when it has none) without loading the model: after the same archive checks as
// Engine, read from the zip. Throws FileNotFound or ModelLoadError. (A loaded Engine has it: metadata_json().)
std::string read_metadata_json(const std::string& path);

// `metadata_json` with the bare NaN / Infinity that files exported before tsnative wrote strict JSON may hold (a
// check that did not run) read as null, so that they still load.
std::string strict_metadata_json(const std::string& metadata_json);

// The recorded inputs, in order; empty for a file without metadata (""). Throws InvalidValue when the text is not
// the JSON tsnative.export writes.
std::vector<InputSpec> recorded_inputs(const std::string& metadata_json);

}  // namespace tsnative
