#include "model_bytes.h"

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

namespace {

// Closes the descriptor on every way out.
struct FileDescriptor {
  int fd;
  ~FileDescriptor() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::shared_ptr<ModelBytes> ModelBytes::read(const std::string& path, uint64_t max_bytes) {
  // Opened without blocking and checked through the open descriptor: open() on a FIFO would wait for a writer, and
  // a check by path before opening could be raced by a file swapped in between.
  const FileDescriptor file{::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC)};
  if (file.fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) throw FileNotFound(path);
    throw ModelLoadError(path, std::string("the file cannot be opened for reading (") + std::strerror(errno) + ")");
  }
  struct stat status{};
  if (::fstat(file.fd, &status) != 0) {
    throw ModelLoadError(path, std::string("the file cannot be examined (") + std::strerror(errno) + ")");
  }
  if (S_ISDIR(status.st_mode)) throw ModelLoadError(path, "it is a directory, not a file");
  if (!S_ISREG(status.st_mode)) {
    const char* kind = S_ISFIFO(status.st_mode)   ? "a FIFO (named pipe)"
                       : S_ISSOCK(status.st_mode) ? "a socket"
                                                  : "a device or other special file";
    throw ModelLoadError(path, std::string("it is ") + kind + ", not a regular file (a model is read from a file)");
  }
  const auto file_size = static_cast<uint64_t>(status.st_size);
  if (file_size == 0) throw ModelLoadError(path, "the file is empty (0 bytes)");
  const uint64_t budget = max_bytes ? max_bytes : physical_memory_bytes();
  if (file_size > budget) {
    throw ModelLoadError(path, "the file is " + std::to_string(file_size) + " bytes, more than the memory budget of " +
                                   std::to_string(budget) + " bytes (max_archive_bytes)");
  }
  std::string bytes(file_size, '\0');
  uint64_t done = 0;
  while (done < file_size) {
    const ssize_t count = ::read(file.fd, bytes.data() + done, file_size - done);
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) throw ModelLoadError(path, std::string("reading failed (") + std::strerror(errno) + ")");
    if (count == 0) throw ModelLoadError(path, "the file became shorter while it was read");
    done += static_cast<uint64_t>(count);
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
