// The .npy format: magic "\x93NUMPY", version, header length, then a Python dict literal such as
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with spaces, then the raw data.
#include "tsnative/npy.h"

#include <ATen/ops/empty.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <regex>

#include "tsnative/errors.h"
#include "tsnative/metadata.h"

namespace tsnative {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& why) {
  throw InvalidValue("input '" + path + "': " + why);
}

c10::ScalarType scalar_type_of(const std::string& path, const std::string& descr) {
  // '<' little-endian, '|' not applicable (1 byte), '=' native (little on every platform LibTorch supports).
  if (descr.size() >= 2 && descr[0] == '>' && descr != ">i1" && descr != ">u1" && descr != ">b1") {
    fail(path, "big-endian data ('" + descr + "') is not supported; save it little-endian (arr.astype('<f4'))");
  }
  const std::string kind = descr.substr(1);
  if (kind == "f4") return c10::kFloat;
  if (kind == "f8") return c10::kDouble;
  if (kind == "i8") return c10::kLong;
  if (kind == "i4") return c10::kInt;
  if (kind == "u1") return c10::kByte;
  if (kind == "b1") return c10::kBool;
  fail(path, "unsupported dtype '" + descr + "'; expected float32, float64 or int64 (also int32, uint8, bool)");
}

std::string header_field(const std::string& path, const std::string& header, const std::string& pattern) {
  std::smatch match;
  if (!std::regex_search(header, match, std::regex(pattern))) fail(path, "malformed .npy header: " + header);
  return match[1];
}

}  // namespace

at::Tensor load_npy(const std::string& path) {
  if (!std::filesystem::exists(path)) throw FileNotFound(path);
  std::ifstream file(path, std::ios::binary);
  char magic[8] = {};
  if (!file.read(magic, sizeof magic) || std::string(magic, 6) != "\x93NUMPY") {
    fail(path, "not a .npy file (expected the \\x93NUMPY magic written by numpy.save)");
  }
  const int major = static_cast<unsigned char>(magic[6]);
  uint32_t header_length = 0;
  unsigned char length_bytes[4] = {};
  const int length_size = major == 1 ? 2 : 4;  // version 1: uint16; versions 2 and 3: uint32, little-endian
  if (!file.read(reinterpret_cast<char*>(length_bytes), length_size)) fail(path, "truncated header");
  for (int i = length_size - 1; i >= 0; --i) header_length = (header_length << 8) | length_bytes[i];
  std::string header(header_length, '\0');
  if (!file.read(header.data(), header_length)) fail(path, "truncated header");

  const auto scalar_type = scalar_type_of(path, header_field(path, header, R"('descr'\s*:\s*'([^']+)')"));
  const bool fortran_order = header_field(path, header, R"('fortran_order'\s*:\s*(True|False))") == "True";
  std::vector<int64_t> shape;
  const std::string dims = header_field(path, header, R"('shape'\s*:\s*\(([^)]*)\))");
  const std::regex number(R"(\d+)");
  // Sizes are checked against what the file holds before anything is allocated: a 100-byte file may declare
  // terabytes.
  const auto data_offset = static_cast<uint64_t>(file.tellg());
  const uint64_t data_available = std::filesystem::file_size(path) - data_offset;
  const uint64_t item_size = c10::elementSize(scalar_type);
  uint64_t declared = item_size;
  if (dims.find('-') != std::string::npos) fail(path, "the header declares a negative dimension: (" + dims + ")");
  for (auto it = std::sregex_iterator(dims.begin(), dims.end(), number); it != std::sregex_iterator(); ++it) {
    const std::string digits = it->str();
    if (digits.size() > 18) fail(path, "the header declares a dimension of " + digits + ", more than any file holds");
    const int64_t size = std::stoll(digits);
    shape.push_back(size);
    // A product that saturates just above what the file holds, so that it cannot overflow.
    const auto n = static_cast<uint64_t>(size);
    if (n == 0) {
      declared = 0;
    } else if (declared > (data_available + 1) / n) {
      declared = data_available + 1;
    } else {
      declared *= n;
    }
  }
  if (declared > data_available) {
    fail(path, "truncated data: the header declares shape " + shape_text(shape) + " of " + std::to_string(item_size) +
                   "-byte items, but only " + std::to_string(data_available) + " bytes of data follow");
  }

  // Fortran order is the transpose of C order: read the reversed shape, then reverse the dimensions.
  std::vector<int64_t> stored_shape(shape.rbegin(), shape.rend());
  at::Tensor tensor = at::empty(fortran_order ? stored_shape : shape, at::TensorOptions().dtype(scalar_type));
  const auto bytes = static_cast<std::streamsize>(tensor.nbytes());
  if (!file.read(static_cast<char*>(tensor.data_ptr()), bytes)) {
    fail(path, "truncated data: the header declares " + std::to_string(bytes) + " bytes of data");
  }
  if (fortran_order && tensor.dim() > 1) {
    std::vector<int64_t> reverse(tensor.dim());
    for (int64_t i = 0; i < tensor.dim(); ++i) reverse[i] = tensor.dim() - 1 - i;
    tensor = tensor.permute(reverse).contiguous();
  }
  return tensor;
}

}  // namespace tsnative
