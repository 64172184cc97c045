#include "archive_check.h"

#include <caffe2/serialize/inline_container.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "error_text.h"
#include "tsnative/errors.h"

namespace tsnative::detail {
namespace {

std::string hex_prefix(const std::array<unsigned char, 4>& bytes, std::streamsize count) {
  std::string out;
  char buffer[4];
  for (std::streamsize i = 0; i < count; ++i) {
    std::snprintf(buffer, sizeof buffer, "%02x", bytes[i]);
    out += (i ? " " : "") + std::string(buffer);
  }
  return out;
}

// Reason for a file that does not start like a zip archive.
std::string not_a_zip_reason(const std::array<unsigned char, 4>& magic, std::streamsize count) {
  if (count >= 1 && magic[0] == 0x80) {
    return "it is a legacy (non-zip) torch.save pickle, not a TorchScript archive; export the model with "
           "torch.jit.script/trace or tsnative.export";
  }
  return "not a zip archive (TorchScript files are zip archives written by torch.jit.save; this one starts with "
         "bytes " +
         hex_prefix(magic, count) + ")";
}

}  // namespace

void check_torchscript_archive(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code error;
  const auto status = fs::status(path, error);
  if (!fs::exists(status)) throw FileNotFound(path);
  if (fs::is_directory(status)) throw ModelLoadError(path, "it is a directory, not a file");
  if (fs::file_size(path, error) == 0) throw ModelLoadError(path, "the file is empty (0 bytes)");

  std::ifstream file(path, std::ios::binary);
  if (!file) throw ModelLoadError(path, "the file cannot be opened for reading");
  std::array<unsigned char, 4> magic{};
  file.read(reinterpret_cast<char*>(magic.data()), magic.size());
  const std::streamsize count = file.gcount();
  if (count < 4 || magic[0] != 'P' || magic[1] != 'K' || magic[2] != 3 || magic[3] != 4) {
    throw ModelLoadError(path, not_a_zip_reason(magic, count));
  }

  // Only the zip's central directory is read here; records are parsed by torch::jit::load afterwards.
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader;
  try {
    reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
  } catch (const c10::Error& e) {
    // LibTorch's first sentence names the problem; the rest is generic advice.
    const std::string detail = first_line(message_of(e));
    throw ModelLoadError(path, "truncated or corrupt zip archive (" + detail.substr(0, detail.find(". ")) + ")");
  }
  const bool has_code = reader->hasRecord("constants.pkl");
  if (!has_code) {
    if (reader->hasRecord("data.pkl")) {
      throw ModelLoadError(path,
                           "it is a torch.save checkpoint (pickled tensors or a state_dict), not a TorchScript "
                           "program; export the model with torch.jit.script/trace or tsnative.export");
    }
    throw ModelLoadError(path, "the zip archive holds no TorchScript program (no constants.pkl record)");
  }
}

}  // namespace tsnative::detail
