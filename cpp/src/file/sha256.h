// Pinning a model file by its SHA-256, checked before the file is parsed.
#pragma once

#include <string>

namespace tsnative::detail {

// Lower-case hex SHA-256 of `bytes` (OpenSSL).
std::string sha256_hex(const std::string& bytes);

// Throws InvalidValue when `expected` is not 64 hex digits, and ModelLoadError when the SHA-256 of `bytes` (the
// file at `path`) differs from it (any case).
void verify_sha256(const std::string& path, const std::string& bytes, const std::string& expected);

}  // namespace tsnative::detail
