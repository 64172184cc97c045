// The export metadata format: what tsnative.export records in a model file (the tsnative.json extra file, see
// Engine::metadata_json), written and read by C++ and, through tsnative._C, by Python. Every writer and reader goes
// through this unit, which owns the format's version. Light on purpose (no TorchScript): code that does not run
// models can include it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tsnative {

// The newest metadata format this build reads, and the one it writes. A change that older readers would
// misread (an entry renamed, or its meaning changed) takes the next version; the reader refuses newer versions.
inline constexpr int kMetadataVersion = 1;

// The TorchScript extra file in which tsnative.export records the metadata.
inline constexpr const char* kMetadataFile = "tsnative.json";

// The "format" entry of metadata of `version`: "tsnative.metadata/1".
std::string metadata_format(int version = kMetadataVersion);

// How deep recorded inputs may nest, counting the argument as 1 (a tensor in a tuple in a dict is 3): deeper
// metadata is refused, not recursed into.
inline constexpr int kMaxInputDepth = 16;

// One argument of the exported method as recorded at export, or one item inside a recorded tuple, list or dict.
struct InputSpec {
  std::string name;               // the argument's name; for an item, its path: "pair[0]", "features['ids']"
  std::string type;               // "Tensor", "tuple", "list", "dict", "int"...
  std::string dtype;              // tensors only: "float32", "int64"...
  std::vector<int64_t> shape;     // tensors only; -1 marks a dimension of any size (a verified dynamic batch)
  std::vector<InputSpec> items;   // tuples and lists: their items in order; dicts: their values
  std::vector<std::string> keys;  // dicts only: the key of each item, in the same order
};

// "[N, 3, 224, 224]": a shape as errors and reports print it; -1 (any size) prints as N.
std::string shape_text(const std::vector<int64_t>& shape);

// --- Reading ------------------------------------------------------------------------------------------------------

// The file's tsnative.json as stored ("" when it has none) without loading the model: after the same archive
// checks as Engine, read from the zip. Not checked: pass it to checked_metadata or recorded_inputs. Throws
// FileNotFound or ModelLoadError. (A loaded Engine has the same text: metadata_json().)
std::string read_metadata_json(const std::string& path);

// The metadata as this version's canonical strict JSON text ("" for a file without metadata, ""), after checking
// that it is tsnative metadata this version reads: a JSON object whose "format" is tsnative.metadata/N with
// N <= kMetadataVersion, whose "inputs" is a list of objects with a "name" and a "type", a "dtype" and a "shape"
// for each "Tensor", and "items" for each "tuple" and "list" (a list) and "dict" (an object), nested at most
// kMaxInputDepth deep. The bare NaN / Infinity that files exported before tsnative wrote strict JSON may hold
// (a check that did not run) read as null, so that those files still load. Throws InvalidValue naming what was
// expected and what was found; for a newer format: "metadata: written by a newer tsnative (tsnative.metadata/2);
// this version reads up to tsnative.metadata/1".
std::string checked_metadata(const std::string& metadata_json);

// The recorded inputs, in order, after the checks of checked_metadata; empty for a file without metadata ("").
// Throws InvalidValue.
std::vector<InputSpec> recorded_inputs(const std::string& metadata_json);

// The "type" of the recorded outputs: "Tensor", "tuple", "list", "dict"...; "" for a file without metadata or one
// that records none. Throws InvalidValue as recorded_inputs does.
std::string recorded_output_type(const std::string& metadata_json);

// The "cpu_features" a .pt2 package's metadata records (the exporting CPU's, see cpu_isa.h); empty when it records
// none. Throws InvalidValue as recorded_inputs does, or when the entry is not a list of strings.
std::vector<std::string> recorded_cpu_features(const std::string& metadata_json);

// --- Writing ------------------------------------------------------------------------------------------------------

// The text to store as the file's tsnative.json, from the metadata as strict JSON text (a JSON object; NaN and
// Infinity refused): "format" is stamped first as metadata_format() (one given must be that), the object passes the
// checks of checked_metadata, and the text is canonical (indent 1, entries in the order given). Throws
// InvalidValue.
std::string metadata_text(const std::string& metadata_json);

}  // namespace tsnative
