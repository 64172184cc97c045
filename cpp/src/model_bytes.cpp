#include "model_bytes.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "tsnative/errors.h"

namespace tsnative::detail {

uint64_t physical_memory_bytes() {
  return static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<uint64_t>(sysconf(_SC_PAGE_SIZE));
}

std::shared_ptr<ModelBytes> ModelBytes::read(const std::string& path, uint64_t max_bytes) {
  namespace fs = std::filesystem;
  std::error_code error;
  const auto status = fs::status(path, error);
  if (!fs::exists(status)) throw FileNotFound(path);
  if (fs::is_directory(status)) throw ModelLoadError(path, "it is a directory, not a file");
  if (!fs::is_regular_file(status)) {
    const char* kind = fs::is_fifo(status)     ? "a FIFO (named pipe)"
                       : fs::is_socket(status) ? "a socket"
                                               : "a device or other special file";
    throw ModelLoadError(path, std::string("it is ") + kind + ", not a regular file (a model is read from a file)");
  }
  const uint64_t file_size = fs::file_size(path, error);
  if (error) throw ModelLoadError(path, "its size cannot be read (" + error.message() + ")");
  if (file_size == 0) throw ModelLoadError(path, "the file is empty (0 bytes)");
  const uint64_t budget = max_bytes ? max_bytes : physical_memory_bytes();
  if (file_size > budget) {
    throw ModelLoadError(path, "the file is " + std::to_string(file_size) + " bytes, more than the memory budget of " +
                                   std::to_string(budget) + " bytes (max_archive_bytes)");
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) throw ModelLoadError(path, "the file cannot be opened for reading");
  std::string bytes(file_size, '\0');
  file.read(bytes.data(), static_cast<std::streamsize>(file_size));
  if (static_cast<uint64_t>(file.gcount()) != file_size) {
    throw ModelLoadError(path, "the file changed size while it was read");
  }
  return std::shared_ptr<ModelBytes>(new ModelBytes(std::move(bytes)));
}

size_t ModelBytes::read(uint64_t pos, void* buf, size_t n, const char* /*what*/) const {
  if (pos >= bytes_.size()) return 0;
  const size_t count = std::min<uint64_t>(n, bytes_.size() - pos);
  std::memcpy(buf, bytes_.data() + pos, count);
  return count;
}

}  // namespace tsnative::detail
