#include "checked_path.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tsnative/errors.h"

namespace tsnative::detail {

CheckedPath::CheckedPath(const ModelBytes& bytes, const std::string& path) {
  int fd = bytes.descriptor();
  if (!bytes.bytes().empty()) {
    memfd_ = ::memfd_create("tsnative-package", MFD_CLOEXEC);
    if (memfd_ < 0) {
      throw ModelLoadError(
          path, std::string("no memory file to load the pinned package from (") + std::strerror(errno) + ")");
    }
    const std::string& data = bytes.bytes();
    for (size_t done = 0; done < data.size();) {
      const ssize_t wrote = ::write(memfd_, data.data() + done, data.size() - done);
      if (wrote < 0 && errno == EINTR) continue;
      if (wrote <= 0) {
        const std::string reason = wrote < 0 ? std::strerror(errno) : "nothing written";
        ::close(memfd_);  // the destructor does not run for a constructor that throws
        throw ModelLoadError(path, "the pinned package could not be copied to memory (" + reason + ")");
      }
      done += static_cast<size_t>(wrote);
    }
    fd = memfd_;
  }
  path_ = "/proc/self/fd/" + std::to_string(fd);
  if (::access(path_.c_str(), R_OK) != 0) {
    if (memfd_ >= 0) ::close(memfd_);
    throw ModelLoadError(path, "AOTInductor's loader opens files by path, and tsnative hands it the checked file as " +
                                   path_ + ", which this system does not provide (is /proc mounted?)");
  }
}

CheckedPath::~CheckedPath() {
  if (memfd_ >= 0) ::close(memfd_);
}

}  // namespace tsnative::detail
