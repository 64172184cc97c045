// The AOTInductor backend: .pt2 packages run by LibTorch's AOTIModelPackageLoader (see aoti_backend.cpp).
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include "backends/backend.h"
#include "file/model_bytes.h"

namespace tsnative::detail {

std::unique_ptr<Backend> load_aoti(const BackendRequest& request, LoadReport& report);

// The AOTInductor metadata (AOTI_DEVICE_KEY, AOTI_CPU_ISA, tsnative.json...) of the package in `bytes` (the file at
// `path`), checked and read from its extraction without loading its code.
std::unordered_map<std::string, std::string> read_package_metadata(const std::string& path,
                                                                   const std::shared_ptr<ModelBytes>& bytes);

// The tsnative.json the package in `bytes` (the file at `path`, checked) records ("" when it has none), read
// without loading the package's code.
std::string read_aoti_metadata_json(const std::string& path, const std::shared_ptr<ModelBytes>& bytes);

}  // namespace tsnative::detail
