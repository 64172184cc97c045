#include "file/model_bytes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "tsnative/errors.h"

namespace tsnative::detail {

uint64_t physical_memory_bytes() {
  return static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<uint64_t>(sysconf(_SC_PAGE_SIZE));
}

std::shared_ptr<ModelBytes> ModelBytes::open(const std::string& path, uint64_t max_bytes, Hold hold) {
  // Opened without blocking and checked through the open descriptor: open() on a FIFO would wait for a writer, and
  // a check by path before opening could be raced by a file swapped in between.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) throw FileNotFound(path);
    throw ModelLoadError(path, std::string("the file cannot be opened for reading (") + std::strerror(errno) + ")");
  }
  // Owns the descriptor from here on, also when a check below refuses the file.
  std::shared_ptr<ModelBytes> file(new ModelBytes(fd, 0));
  struct stat status{};
  if (::fstat(fd, &status) != 0) {
    throw ModelLoadError(path, std::string("the file cannot be examined (") + std::strerror(errno) + ")");
  }
  if (S_ISDIR(status.st_mode)) throw ModelLoadError(path, "it is a directory, not a file");
  if (!S_ISREG(status.st_mode)) {
    const char* kind = S_ISFIFO(status.st_mode)   ? "a FIFO (named pipe)"
                       : S_ISSOCK(status.st_mode) ? "a socket"
                                                  : "a device or other special file";
    throw ModelLoadError(path, std::string("it is ") + kind + ", not a regular file (a model is read from a file)");
  }
  file->size_ = static_cast<uint64_t>(status.st_size);
  if (file->size_ == 0) throw ModelLoadError(path, "the file is empty (0 bytes)");
  const uint64_t budget = max_bytes ? max_bytes : physical_memory_bytes();
  if (file->size_ > budget) {
    throw ModelLoadError(path, "the file is " + std::to_string(file->size_) +
                                   " bytes, more than the memory budget of " + std::to_string(budget) +
                                   " bytes (max_archive_bytes)");
  }
  if (hold == Hold::kMemory) {
    std::string bytes(file->size_, '\0');
    if (file->read(0, bytes.data(), bytes.size()) != bytes.size()) {
      throw ModelLoadError(path, "the file became shorter while it was read");
    }
    file->bytes_ = std::move(bytes);
  }
  return file;
}

ModelBytes::~ModelBytes() {
  if (fd_ >= 0) ::close(fd_);
}

size_t ModelBytes::read(uint64_t pos, void* buf, size_t n, const char* /*what*/) const {
  if (pos >= size_) return 0;
  const size_t count = std::min<uint64_t>(n, size_ - pos);
  if (!bytes_.empty()) {
    std::memcpy(buf, bytes_.data() + pos, count);
    return count;
  }
  size_t done = 0;
  while (done < count) {
    const ssize_t got = ::pread(fd_, static_cast<char*>(buf) + done, count - done, static_cast<off_t>(pos + done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;  // an error or a file shortened meanwhile: the reader reports the short read
    done += static_cast<size_t>(got);
  }
  return done;
}

}  // namespace tsnative::detail
