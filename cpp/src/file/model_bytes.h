// A model file opened once: the SHA-256 pin, the archive checks and LibTorch's loader all read through this one
// object, never through the path again, so a file swapped at that path between the checks and the load cannot get
// past them (isolate=True relies on the pin).
#pragma once

#include <caffe2/serialize/read_adapter_interface.h>

#include <cstdint>
#include <memory>
#include <string>

namespace tsnative::detail {

class ModelBytes : public caffe2::serialize::ReadAdapterInterface {
 public:
  enum class Hold {
    kFile,    // read through the open descriptor: a file replaced at the path is not seen
    kMemory,  // read whole into memory: what is hashed is exactly what is checked and loaded (for a SHA-256 pin;
              // peak memory is then the file plus the loaded model)
  };

  // Opens `path` (without blocking) and checks it through the open descriptor. Throws FileNotFound, or
  // ModelLoadError for what cannot be opened or is not a regular file (a directory, a FIFO, whose open() would
  // otherwise block until a writer comes, a socket, a device), an empty file, or a file larger than `max_bytes`
  // (0: the machine's physical memory).
  static std::shared_ptr<ModelBytes> open(const std::string& path, uint64_t max_bytes, Hold hold);
  ~ModelBytes() override;
  ModelBytes(const ModelBytes&) = delete;
  ModelBytes& operator=(const ModelBytes&) = delete;

  size_t size() const override { return size_; }
  size_t read(uint64_t pos, void* buf, size_t n, const char* what = "") const override;
  // The file's bytes; only with Hold::kMemory.
  const std::string& bytes() const { return bytes_; }
  // The open descriptor (valid while this object lives): for a loader that can only open a path, /proc/self/fd/N.
  int descriptor() const { return fd_; }

 private:
  ModelBytes(int fd, uint64_t size) : fd_(fd), size_(size) {}
  int fd_ = -1;
  uint64_t size_ = 0;
  std::string bytes_;
};

// The machine's physical memory, the default budget for a model's data.
uint64_t physical_memory_bytes();

}  // namespace tsnative::detail
