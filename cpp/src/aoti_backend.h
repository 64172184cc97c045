// The AOTInductor backend: .pt2 packages run by LibTorch's AOTIModelPackageLoader (see aoti_backend.cpp).
#pragma once

#include <memory>
#include <string>

#include "backend.h"

namespace tsnative::detail {

std::unique_ptr<Backend> load_aoti(const BackendRequest& request, LoadReport& report);

// The tsnative.json a package records ("" when it has none), read without loading the package's code.
std::string read_aoti_metadata_json(const std::string& path);

}  // namespace tsnative::detail
