// Which backend runs a file, decided by its content: an AOTInductor package (.pt2) or a TorchScript archive.
#include <chrono>

#include "backends/aoti/aoti_backend.h"
#include "backends/backend.h"
#include "backends/torchscript/torchscript_backend.h"
#include "common/stopwatch.h"
#include "file/archive_check.h"
#include "file/model_bytes.h"
#include "file/sha256.h"

namespace tsnative::detail {

std::unique_ptr<Backend> open_backend(const BackendRequest& given, LoadReport& report) {
  const auto start = std::chrono::steady_clock::now();
  // Opened once, before anything parses it: the budget and the pin apply first, the format is chosen on the bytes
  // that were hashed, and the backend loads those same bytes.
  BackendRequest request = given;
  const EngineOptions& options = request.options;
  request.bytes = ModelBytes::open(request.path, options.max_archive_bytes.value_or(0),
                                   options.sha256 ? ModelBytes::Hold::kMemory : ModelBytes::Hold::kFile);
  if (options.sha256) verify_sha256(request.path, request.bytes->bytes(), *options.sha256);
  const bool package = is_aoti_package(request.bytes);
  report.timings.read_s = seconds_since(start);
  return package ? load_aoti(request, report) : load_torchscript(request, report);
}

}  // namespace tsnative::detail
