#include "file/sha256.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <memory>

#include "tsnative/errors.h"

namespace tsnative::detail {

std::string sha256_hex(const std::string& bytes) {
  const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr);
  EVP_DigestUpdate(context.get(), bytes.data(), bytes.size());
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_DigestFinal_ex(context.get(), digest.data(), &length);
  static const char* hex = "0123456789abcdef";
  std::string text;
  for (unsigned int i = 0; i < length; ++i) {
    text += hex[digest[i] >> 4];
    text += hex[digest[i] & 15];
  }
  return text;
}

void verify_sha256(const std::string& path, const std::string& bytes, const std::string& expected) {
  std::string wanted = expected;
  std::transform(wanted.begin(), wanted.end(), wanted.begin(), [](unsigned char c) { return std::tolower(c); });
  const bool hex = wanted.size() == 64 &&
                   std::all_of(wanted.begin(), wanted.end(), [](unsigned char c) { return std::isxdigit(c) != 0; });
  if (!hex) {
    throw InvalidValue("sha256: expected 64 hexadecimal digits, got \"" + expected + "\" (" +
                       std::to_string(expected.size()) + " characters)");
  }
  const std::string actual = sha256_hex(bytes);
  if (actual != wanted) {
    throw ModelLoadError(path, "sha256 mismatch: expected " + wanted + ", the file has " + actual +
                                   " (refused before parsing: it is not the pinned file)");
  }
}

}  // namespace tsnative::detail
