#include "backends/torchscript/torchscript_load.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/import.h>

#include <chrono>

#include "common/error_text.h"
#include "common/stopwatch.h"
#include "file/archive_check.h"
#include "file/model_bytes.h"
#include "file/sha256.h"
#include "tsnative/engine.h"
#include "tsnative/errors.h"
#include "tsnative/metadata.h"

namespace tsnative::detail {

torch::jit::Module load_checked(const std::string& path, c10::Device device, const std::string& sha256,
                                uint64_t max_archive_bytes, std::string& metadata_json, double* read_seconds) {
  const auto start = std::chrono::steady_clock::now();
  // A pinned file is read into memory so that the bytes hashed are the bytes loaded; otherwise it is read through
  // the descriptor opened here (a file replaced at the path meanwhile is not seen either way).
  const auto bytes =
      ModelBytes::open(path, max_archive_bytes, sha256.empty() ? ModelBytes::Hold::kFile : ModelBytes::Hold::kMemory);
  if (!sha256.empty()) verify_sha256(path, bytes->bytes(), sha256);
  const double open_seconds = seconds_since(start);
  double check_seconds = 0.0;
  auto module = load_checked(path, bytes, device, max_archive_bytes, metadata_json, &check_seconds);
  if (read_seconds) *read_seconds = open_seconds + check_seconds;  // everything before torch::jit::load
  return module;
}

torch::jit::Module load_checked(const std::string& path, const std::shared_ptr<ModelBytes>& bytes, c10::Device device,
                                uint64_t max_archive_bytes, std::string& metadata_json, double* read_seconds) {
  const auto start = std::chrono::steady_clock::now();
  check_torchscript_archive(path, bytes, max_archive_bytes);
  if (read_seconds) *read_seconds = seconds_since(start);
  try {
    torch::jit::ExtraFilesMap extra_files{{kMetadataFile, ""}};
    // map_location = device: parameters are created on the device instead of copied there afterwards.
    auto module = torch::jit::load(bytes, device, extra_files);
    metadata_json = extra_files[kMetadataFile];
    return module;
  } catch (const c10::Error& e) {
    throw ModelLoadError(path, first_line(message_of(e)));
  } catch (const std::exception& e) {
    // The model's own code (a __setstate__) raised while loading: its traceback ends with what failed.
    const std::string text = e.what();
    const bool ran_code = text.starts_with("The following operation failed in the TorchScript interpreter");
    throw ModelLoadError(path,
                         ran_code ? "the model's code failed while loading: " + last_line(text) : first_line(text));
  }
}

}  // namespace tsnative::detail

namespace tsnative::detail {

std::string read_torchscript_metadata_json(const std::string& path, const std::shared_ptr<ModelBytes>& bytes) {
  check_torchscript_archive(path, bytes, 0);
  const std::string record = std::string("extra/") + kMetadataFile;
  try {
    caffe2::serialize::PyTorchStreamReader reader(bytes);
    if (!reader.hasRecord(record)) return "";
    const auto [data, size] = reader.getRecord(record);
    return {static_cast<const char*>(data.get()), size};
  } catch (const c10::Error& e) {
    throw ModelLoadError(path, first_line(message_of(e)));
  }
}

}  // namespace tsnative::detail
