// Loading a TorchScript file with tsnative's checks first: the one path from a file to a module, for the engine and
// for fine-tuning.
#pragma once

#include <c10/core/Device.h>
#include <torch/csrc/jit/api/module.h>

#include <cstdint>
#include <memory>
#include <string>

#include "file/model_bytes.h"

namespace tsnative::detail {

// Checks that `path` exists, matches `sha256` (hex; "" for no pin) and is a plausible TorchScript archive within
// `max_archive_bytes` (0: physical memory; see check_torchscript_archive), then loads it onto `device` and reads
// its tsnative.json into `metadata_json` ("" when absent). Throws FileNotFound or ModelLoadError, whose reason for
// a failure inside the model's own load-time code is that code's last traceback line. `read_seconds`, when given,
// receives the time of the checks before torch::jit::load.
torch::jit::Module load_checked(const std::string& path, c10::Device device, const std::string& sha256,
                                uint64_t max_archive_bytes, std::string& metadata_json, double* read_seconds = nullptr);

// The same for a file already opened (and, when pinned, hashed) as `bytes`: the archive checks, then the load.
torch::jit::Module load_checked(const std::string& path, const std::shared_ptr<ModelBytes>& bytes, c10::Device device,
                                uint64_t max_archive_bytes, std::string& metadata_json, double* read_seconds = nullptr);

// The tsnative.json a TorchScript file records ("" when it has none), read from `bytes` (the file at `path`) after
// the archive checks, without loading the module.
std::string read_torchscript_metadata_json(const std::string& path, const std::shared_ptr<ModelBytes>& bytes);

}  // namespace tsnative::detail
