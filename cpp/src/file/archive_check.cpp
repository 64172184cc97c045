#include "file/archive_check.h"

#include <caffe2/serialize/inline_container.h>

#include <array>
#include <cstdio>

#include "common/error_text.h"
#include "file/model_bytes.h"
#include "file/pickle_check.h"
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

// More entries than any real model has (ResNet-152 has a few hundred): refuse before LibTorch indexes them.
constexpr size_t kMaxEntries = 200'000;
constexpr uint64_t kMaxDeflateRatio = 1032;

std::string bytes_text(uint64_t bytes) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return bytes < 1'000'000 ? std::to_string(bytes) + " bytes" : buffer;
}

// Each record must fit in the file and the whole in the memory budget; names must stay inside the archive.
void check_entries(const std::string& path, caffe2::serialize::PyTorchStreamReader& reader,
                   const std::vector<std::string>& records, uint64_t file_size, uint64_t max_bytes) {
  if (records.size() > kMaxEntries) {
    throw ModelLoadError(path, "the archive has " + std::to_string(records.size()) + " entries, more than the " +
                                   std::to_string(kMaxEntries) + " a model plausibly has");
  }
  const uint64_t budget = max_bytes ? max_bytes : physical_memory_bytes();
  uint64_t total = 0;
  uint64_t deflatable = 0;  // records that may be deflated, together: entries may share (overlap in) their data
  for (const auto& name : records) {
    if (name.empty() || name.front() == '/' || name.find("..") != std::string::npos ||
        name.find('\\') != std::string::npos) {
      throw ModelLoadError(path, "entry name '" + name + "' points outside the archive");
    }
    const uint64_t size = reader.getRecordSize(name);
    // Tensor data (data/...) is always stored uncompressed by torch, so it must lie inside the file. Other records
    // (debug info) may be deflated, and DEFLATE cannot expand more than 1032 times.
    const bool tensor_data = name.rfind("data/", 0) == 0;
    const uint64_t offset = tensor_data ? reader.getRecordOffset(name) : 0;
    if ((tensor_data && (offset > file_size || size > file_size - offset)) || size / kMaxDeflateRatio > file_size) {
      throw ModelLoadError(path, "record '" + name + "' declares " + bytes_text(size) + ", more than the " +
                                     bytes_text(file_size) + " file can hold (a corrupt or crafted archive)");
    }
    if (!tensor_data) deflatable += size;
    if (deflatable / kMaxDeflateRatio > file_size) {
      throw ModelLoadError(path, "its records declare " + bytes_text(deflatable) + " together, more than the " +
                                     bytes_text(file_size) +
                                     " file can hold even deflated (a corrupt or crafted "
                                     "archive)");
    }
    total += size;
    if (total > budget) {
      throw ModelLoadError(path, "the archive declares more than " + bytes_text(budget) +
                                     " of data, the memory budget (max_archive_bytes)");
    }
  }
}

// Pickled records (the module's data and constants, debug info) are read by LibTorch's unpickler, which allocates
// what their length and memo arguments ask for; refuse implausible ones first (PyTorch #185443).
void check_pickles(const std::string& path, caffe2::serialize::PyTorchStreamReader& reader,
                   const std::vector<std::string>& records) {
  for (const auto& name : records) {
    if (!name.ends_with(".pkl") && !name.ends_with(".debug_pkl")) continue;
    const auto [data, size] = reader.getRecord(name);
    const std::string reason =
        implausible_pickle_argument(name, std::string_view(static_cast<const char*>(data.get()), size));
    if (!reason.empty()) throw ModelLoadError(path, reason + " (a corrupt or crafted archive)");
  }
}

}  // namespace

bool is_aoti_package(const std::shared_ptr<caffe2::serialize::ReadAdapterInterface>& bytes) {
  try {
    caffe2::serialize::PyTorchStreamReader reader(bytes);
    // The record is 3 bytes in a package; a larger one (a deflated bomb) is not inflated to find out.
    if (!reader.hasRecord("archive_format") || reader.getRecordSize("archive_format") > 16) return false;
    const auto [data, size] = reader.getRecord("archive_format");
    return std::string_view(static_cast<const char*>(data.get()), size) == "pt2";
  } catch (const c10::Error&) {
    return false;  // not a zip, or a corrupt one: the TorchScript checks say which
  }
}

void check_aoti_package(const std::string& path, const std::shared_ptr<caffe2::serialize::ReadAdapterInterface>& bytes,
                        uint64_t max_bytes) {
  try {
    caffe2::serialize::PyTorchStreamReader reader(bytes);
    check_entries(path, reader, reader.getAllRecords(), bytes->size(), max_bytes);
  } catch (const c10::Error& e) {
    throw ModelLoadError(path, "corrupt zip archive (" + first_line(message_of(e)) + ")");
  }
}

void check_torchscript_archive(const std::string& path,
                               const std::shared_ptr<caffe2::serialize::ReadAdapterInterface>& bytes,
                               uint64_t max_bytes) {
  const uint64_t file_size = bytes->size();
  std::array<unsigned char, 4> magic{};
  const auto count = static_cast<std::streamsize>(bytes->read(0, magic.data(), magic.size()));
  if (count < 4 || magic[0] != 'P' || magic[1] != 'K' || magic[2] != 3 || magic[3] != 4) {
    throw ModelLoadError(path, not_a_zip_reason(magic, count));
  }

  // Only the zip's central directory is read here; records are parsed by torch::jit::load afterwards.
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader;
  try {
    reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(bytes);
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
  try {
    const auto records = reader->getAllRecords();
    check_entries(path, *reader, records, file_size, max_bytes);
    check_pickles(path, *reader, records);
  } catch (const c10::Error& e) {  // a local header the central directory points to cannot be read
    throw ModelLoadError(path, "corrupt zip archive (" + first_line(message_of(e)) + ")");
  }
}

}  // namespace tsnative::detail
