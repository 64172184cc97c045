#include "backends/backend_registry.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstring>

#include "backends/aoti/aoti_backend.h"
#include "backends/torchscript/torchscript_backend.h"
#include "backends/torchscript/torchscript_load.h"
#include "common/stopwatch.h"
#include "file/archive_check.h"
#include "file/sha256.h"
#include "format/json_depth.h"
#include "format/options_json.h"
#include "tsnative/errors.h"
#include "tsnative/metadata.h"

namespace tsnative::detail {
const std::vector<BackendEntry>& backends() {
  static const std::vector<BackendEntry> table{
      {"aoti", ".pt2 packages", "a .pt2 package",
       [](const std::shared_ptr<ModelBytes>& bytes) { return is_aoti_package(bytes); }, load_aoti,
       read_aoti_metadata_json},
      // Last: every other file is TorchScript's to load or to refuse with its own checks' reason.
      {"torchscript", "TorchScript files", "a TorchScript file",
       [](const std::shared_ptr<ModelBytes>&) { return true; }, load_torchscript, read_torchscript_metadata_json},
  };
  return table;
}

const BackendEntry& backend_for(const std::shared_ptr<ModelBytes>& bytes) {
  for (const auto& entry : backends()) {
    if (entry.claims(bytes)) return entry;
  }
  return backends().back();
}

void refuse_options_of_other_backends(const EngineOptions& options, const BackendEntry& entry) {
  static const EngineOptions defaults;
  EngineOptions::describe([&](const OptionInfo& info, auto member) {
    if (info.backend[0] == '\0' || std::strcmp(info.backend, entry.name) == 0) return;
    if (options.*member == defaults.*member) return;
    const char* files = info.backend;
    for (const auto& other : backends()) {
      if (std::strcmp(other.name, info.backend) == 0) files = other.files;
    }
    throw InvalidValue(std::string(info.name) + ": applies to " + files + "; this file is " + entry.file_kind +
                       " (got " + option_json(options.*member).dump() + ")");
  });
}

std::unique_ptr<Backend> open_backend(const BackendRequest& given, LoadReport& report) {
  const auto start = std::chrono::steady_clock::now();
  // Opened once, before anything parses it: the budget and the pin apply first, the format is chosen on the bytes
  // that were hashed, and the backend loads those same bytes.
  BackendRequest request = given;
  const EngineOptions& options = request.options;
  request.bytes = ModelBytes::open(request.path, options.max_archive_bytes.value_or(0),
                                   options.sha256 ? ModelBytes::Hold::kMemory : ModelBytes::Hold::kFile);
  if (options.sha256) verify_sha256(request.path, request.bytes->bytes(), *options.sha256);
  const BackendEntry& entry = backend_for(request.bytes);
  report.timings.read_s = seconds_since(start);
  refuse_options_of_other_backends(options, entry);
  report.backend = entry.name;
  return entry.open(request, report);
}

}  // namespace tsnative::detail

namespace tsnative {

std::string read_metadata_json(const std::string& path) {
  const auto bytes = detail::ModelBytes::open(path, 0, detail::ModelBytes::Hold::kFile);
  std::string text = detail::backend_for(bytes).read_metadata_json(path, bytes);
  // Raw text for the tools, which may show metadata this version does not read; but never a nesting that their
  // JSON readers (Python's json, this one's dump) would recurse through until the stack runs out.
  try {
    detail::parse_bounded<nlohmann::json>(text, [&] {
      throw ModelLoadError(path, "metadata: expected JSON nested at most " + std::to_string(detail::kMaxJsonDepth) +
                                     " levels deep, got deeper");
    });
  } catch (const nlohmann::json::exception&) {
    // Not JSON: the reader that parses it says so in its own words.
  }
  return text;
}

}  // namespace tsnative
