// A .pt2 package's files in a folder of tsnative's own, for AOTInductor's loader (which loads a folder as it loads
// a zip). Extracted by tsnative from the bytes it checked and, when pinned, hashed:
// - the loader never reads the archive's raw entry names, so none can point outside the folder (an entry renamed
//   "../x" was extracted outside the loader's temporary folder and never removed);
// - a load that fails leaves nothing: the folder goes with the last PackageFolder (the loader's own temporary
//   folder stayed behind when its constructor threw), and folders of processes that died (SIGKILL) are removed by
//   the next extraction;
// - a package loaded again in the same process reuses its folder: the loader dlopen()s the same library path,
//   which the dynamic linker maps once. The loader never dlclose()s a package's library, so each load of a fresh
//   copy kept the whole library (its weights included) mapped until exit.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <unordered_map>

#include "file/model_bytes.h"

namespace tsnative::detail {

class PackageFolder {
 public:
  // The folder holding the package in `bytes` (already checked by check_aoti_package), extracted now or reused from
  // an earlier load of the same file in this process: the same device, inode, size and modification time, and the
  // same SHA-256 when `sha256` pins it. Throws ModelLoadError naming `path`.
  static std::shared_ptr<const PackageFolder> of(const std::string& path, const std::shared_ptr<ModelBytes>& bytes,
                                                 const std::string& sha256);
  // Keeps `folder` for later loads of the same file in this process, until exit: called once its library loaded.
  // A folder not kept is removed with its last reference (a load that failed).
  static void keep(const std::shared_ptr<const PackageFolder>& folder);
  // Removes the folder (a library the loader mapped from it stays mapped; Linux keeps a removed file's pages).
  ~PackageFolder();
  PackageFolder(const PackageFolder&) = delete;
  PackageFolder& operator=(const PackageFolder&) = delete;

  const std::string& str() const { return folder_; }

  // The model's AOTInductor metadata (its wrapper's <name>_metadata.json: AOTI_DEVICE_KEY, AOTI_CPU_ISA, tsnative.json
  // ...), read from the folder before the package's code is loaded. Throws ModelLoadError naming `path`.
  std::unordered_map<std::string, std::string> metadata(const std::string& path) const;

  // The prefix of every folder's name in the temp directory: "tsnative-pt2-<pid>-".
  static std::string name_prefix(int pid);

  struct Folders;  // the folders kept (package_folder.cpp)
  // What makes two loads the same package: the file's device, inode, size, modification time, and its pin.
  using Key = std::tuple<uint64_t, uint64_t, int64_t, int64_t, int64_t, std::string>;

 private:
  PackageFolder(std::string folder, int owner, Key key)
      : folder_(std::move(folder)), owner_(owner), key_(std::move(key)) {}
  std::string folder_;
  int owner_;  // the process that made it: a forked child never removes its parent's folders
  Key key_;
};

}  // namespace tsnative::detail
