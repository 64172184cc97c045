// A path for a loader that can only open a file by path (AOTInductor's) that reads exactly what tsnative checked:
// Linux's /proc/self/fd/N names the descriptor the checks read through (ModelBytes), so a file swapped in at the
// path afterwards is not seen; a pinned file's hashed bytes go to an anonymous memory file (memfd) that nothing
// else can write.
#pragma once

#include <string>

#include "model_bytes.h"

namespace tsnative::detail {

class CheckedPath {
 public:
  // Throws ModelLoadError naming `path` when no such path can be made (no /proc; no memory file).
  CheckedPath(const ModelBytes& bytes, const std::string& path);
  ~CheckedPath();
  CheckedPath(const CheckedPath&) = delete;
  CheckedPath& operator=(const CheckedPath&) = delete;

  // Valid while this object and the ModelBytes live.
  const std::string& str() const { return path_; }

 private:
  int memfd_ = -1;
  std::string path_;
};

}  // namespace tsnative::detail
