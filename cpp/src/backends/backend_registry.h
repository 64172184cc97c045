// The backends, one line each: what a backend is called, which opened files it claims, how it opens them and reads
// their metadata. A third format is a folder under backends/, one line in backends(), a CMake group and the tags of
// its options (OptionInfo::backend).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "file/model_bytes.h"

namespace tsnative::detail {

struct BackendEntry {
  const char* name;       // load_report's "backend", and OptionInfo::backend of the options that apply to it
  const char* files;      // what its options apply to, for errors: "TorchScript files", ".pt2 packages"
  const char* file_kind;  // what a file it claims is, for errors: "a TorchScript file", "a .pt2 package"
  // Whether the file in `bytes` is one of this backend's (decided on the opened, hashed bytes; the first entry
  // that claims a file gets it, and the last claims every file, its checks saying what is wrong with it).
  bool (*claims)(const std::shared_ptr<ModelBytes>& bytes);
  std::unique_ptr<Backend> (*open)(const BackendRequest& request, LoadReport& report);
  // The tsnative.json the file records ("" when none), without loading its code.
  std::string (*read_metadata_json)(const std::string& path, const std::shared_ptr<ModelBytes>& bytes);
};

const std::vector<BackendEntry>& backends();

// The entry that claims the file in `bytes`.
const BackendEntry& backend_for(const std::shared_ptr<ModelBytes>& bytes);

// Refuses, as InvalidValue, an option given a value other than its default when its declaration scopes it to
// another backend than `entry`: "onednn_fusion: applies to TorchScript files; this file is a .pt2 package (got
// \"on\")".
void refuse_options_of_other_backends(const EngineOptions& options, const BackendEntry& entry);

}  // namespace tsnative::detail
