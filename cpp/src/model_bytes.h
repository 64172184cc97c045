// A model file's bytes, read once: the SHA-256 pin, the archive checks and LibTorch's loader all read this one
// buffer, so a file swapped on disk between the checks and the load cannot get past them (isolate=True relies
// on the pin), and the file is read from disk once instead of four times.
#pragma once

#include <caffe2/serialize/read_adapter_interface.h>

#include <cstdint>
#include <memory>
#include <string>

namespace tsnative::detail {

class ModelBytes : public caffe2::serialize::ReadAdapterInterface {
 public:
  // Reads `path` whole. Throws FileNotFound, or ModelLoadError for what cannot be opened or is not a regular file
  // (a directory, a FIFO, whose open() would otherwise block until a writer comes, a socket, a device), an empty
  // file, or a file larger than `max_bytes` (0: the machine's physical memory). The bytes are held while the model
  // loads: peak memory is the file plus the loaded model.
  static std::shared_ptr<ModelBytes> read(const std::string& path, uint64_t max_bytes);

  size_t size() const override { return bytes_.size(); }
  size_t read(uint64_t pos, void* buf, size_t n, const char* what = "") const override;
  const std::string& bytes() const { return bytes_; }

 private:
  explicit ModelBytes(std::string bytes) : bytes_(std::move(bytes)) {}
  std::string bytes_;
};

// The machine's physical memory, the default budget for a model's data.
uint64_t physical_memory_bytes();

}  // namespace tsnative::detail
