// Pinning a model file by its SHA-256, checked before the file is parsed.
#pragma once

#include <string>

namespace tsnative::detail {

// Lower-case hex SHA-256 of the file's bytes (OpenSSL), read in chunks.
std::string file_sha256(const std::string& path);

// Throws ModelLoadError when the file's SHA-256 differs from `expected` (hex, any case).
void verify_sha256(const std::string& path, const std::string& expected);

}  // namespace tsnative::detail
