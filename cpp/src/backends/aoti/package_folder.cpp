#include "backends/aoti/package_folder.h"

#include <caffe2/serialize/inline_container.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <tuple>

#include "common/error_text.h"
#include "format/json_depth.h"
#include "tsnative/errors.h"

namespace fs = std::filesystem;

namespace tsnative::detail {

struct PackageFolder::Folders {
  std::mutex mutex;
  // The folders of loaded packages, kept while the process lives (see package_folder.h): each loaded library stays
  // mapped until exit anyway, so its folder costs no more disk than the removed file would.
  std::map<PackageFolder::Key, std::shared_ptr<const PackageFolder>> kept;
  // Every folder of this process that exists, with the process that made it: removed at exit even when an engine
  // that holds it is never destroyed (Python need not free every object before it exits).
  std::map<std::string, int> made;
};

namespace {

PackageFolder::Folders& folders() {
  static auto* all = new PackageFolder::Folders;  // never destroyed: engines may be closed after static destructors ran
  return *all;
}

// Removes folders this process made at exit. Registered once, on the first extraction.
void remove_at_exit() {
  PackageFolder::Folders& all = folders();
  std::map<std::string, int> made;
  std::map<PackageFolder::Key, std::shared_ptr<const PackageFolder>> kept;
  {
    const std::lock_guard lock(all.mutex);
    made.swap(all.made);
    kept.swap(all.kept);
  }
  kept.clear();  // their destructors find nothing left to do: `made` is empty
  const int pid = static_cast<int>(::getpid());
  for (const auto& [folder, owner] : made) {
    std::error_code ignored;
    if (owner == pid) fs::remove_all(folder, ignored);  // a forked child leaves its parent's alone
  }
}

std::string temp_directory() {
  std::error_code error;
  const fs::path temp = fs::temp_directory_path(error);  // $TMPDIR, else /tmp
  return error ? std::string("/tmp") : temp.string();
}

// Folders of processes that no longer exist (killed before they could remove theirs).
void remove_stale_folders(const std::string& temp) {
  const std::string prefix = "tsnative-pt2-";
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(temp, error)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with(prefix)) continue;
    const std::string rest = name.substr(prefix.size());
    const auto dash = rest.find('-');
    if (dash == std::string::npos || dash == 0 || dash > 9) continue;
    if (rest.find_first_not_of("0123456789") != dash) continue;
    const int pid = std::stoi(rest.substr(0, dash));
    if (::kill(pid, 0) == 0 || errno != ESRCH) continue;  // alive, or someone else's: not ours to remove
    std::error_code ignored;
    fs::remove_all(entry.path(), ignored);
  }
}

void write_file(const std::string& path, const fs::path& target, const void* data, size_t size) {
  std::ofstream out(target, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) {
    throw ModelLoadError(path, "its files could not be written to " + target.string() + " (" + std::strerror(errno) +
                                   "; is the temp directory full?)");
  }
}

// The package's records written under `folder`, as the loader finds them in a zip's archive folder. The names were
// checked (check_aoti_package: relative, no "..", no backslash) and the reader gives them without the archive's
// first folder, so each lies inside `folder`.
void extract(const std::string& path, const std::shared_ptr<ModelBytes>& bytes, const fs::path& folder) {
  try {
    caffe2::serialize::PyTorchStreamReader reader(bytes);
    for (const auto& name : reader.getAllRecords()) {
      const fs::path target = folder / name;
      fs::create_directories(target.parent_path());
      const auto [data, size] = reader.getRecord(name);
      write_file(path, target, data.get(), size);
    }
  } catch (const c10::Error& e) {
    throw ModelLoadError(path, "corrupt zip archive (" + first_line(message_of(e)) + ")");
  } catch (const fs::filesystem_error& e) {
    throw ModelLoadError(path, std::string("its files could not be extracted (") + e.what() + ")");
  }
}

}  // namespace

std::string PackageFolder::name_prefix(int pid) { return "tsnative-pt2-" + std::to_string(pid) + "-"; }

std::shared_ptr<const PackageFolder> PackageFolder::of(const std::string& path,
                                                       const std::shared_ptr<ModelBytes>& bytes,
                                                       const std::string& sha256) {
  struct stat status{};
  if (::fstat(bytes->descriptor(), &status) != 0) {
    throw ModelLoadError(path, std::string("the file cannot be examined (") + std::strerror(errno) + ")");
  }
  Key key{status.st_dev, status.st_ino, status.st_size, status.st_mtim.tv_sec, status.st_mtim.tv_nsec, sha256};
  Folders& all = folders();
  std::shared_ptr<const PackageFolder> removed;  // released after the lock: its destructor takes it
  {
    const std::lock_guard lock(all.mutex);
    if (const auto kept = all.kept.find(key); kept != all.kept.end()) {
      std::error_code error;
      // A temp cleaner (systemd-tmpfiles, after days) may have removed it under a long-running server: extracted
      // again rather than handed to the loader missing.
      if (fs::is_directory(kept->second->str(), error)) return kept->second;
      removed = std::move(kept->second);
      all.kept.erase(kept);
    }
  }
  static std::once_flag registered;
  std::call_once(registered, [] { std::atexit(remove_at_exit); });
  const std::string temp = temp_directory();
  remove_stale_folders(temp);
  const int pid = static_cast<int>(::getpid());
  std::string pattern = temp + "/" + name_prefix(pid) + "XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw ModelLoadError(path, "no folder to extract the package to in " + temp + " (" + std::strerror(errno) + ")");
  }
  {
    const std::lock_guard lock(all.mutex);
    all.made.emplace(pattern, pid);
  }
  // Owned from here: removed if the extraction fails.
  std::shared_ptr<const PackageFolder> folder(new PackageFolder(pattern, pid, std::move(key)));
  extract(path, bytes, folder->folder_);
  return folder;
}

void PackageFolder::keep(const std::shared_ptr<const PackageFolder>& folder) {
  Folders& all = folders();
  const std::lock_guard lock(all.mutex);
  all.kept.emplace(folder->key_, folder);  // another thread's copy kept first: this one goes with its engine
}

std::unordered_map<std::string, std::string> PackageFolder::metadata(const std::string& path) const {
  // AOTInductor writes one <name>_metadata.json per compiled file of the model; the wrapper's is the model's.
  const fs::path model = fs::path(folder_) / "data" / "aotinductor" / "model";
  std::error_code error;
  fs::path found;
  for (const auto& entry : fs::directory_iterator(model, error)) {
    const std::string name = entry.path().filename().string();
    if (name.ends_with(".wrapper_metadata.json") || (found.empty() && name.ends_with("_metadata.json"))) {
      found = entry.path();
    }
  }
  if (found.empty()) throw ModelLoadError(path, "the package holds no model metadata (data/aotinductor/model)");
  std::ifstream in(found, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::unordered_map<std::string, std::string> metadata;
  try {
    const auto json = parse_bounded<nlohmann::json>(text, [&] {
      throw ModelLoadError(path,
                           "its AOTInductor metadata nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    });
    if (!json.is_object()) throw ModelLoadError(path, "its AOTInductor metadata is not a JSON object");
    for (const auto& [key, value] : json.items()) {
      if (value.is_string()) metadata[key] = value.get<std::string>();
    }
  } catch (const nlohmann::json::exception& e) {
    throw ModelLoadError(path, std::string("its AOTInductor metadata does not read (") + e.what() + ")");
  }
  return metadata;
}

PackageFolder::~PackageFolder() {
  if (static_cast<int>(::getpid()) != owner_) return;
  {
    Folders& all = folders();
    const std::lock_guard lock(all.mutex);
    if (all.made.erase(folder_) == 0) return;  // removed at exit already
  }
  std::error_code ignored;
  fs::remove_all(folder_, ignored);
}

}  // namespace tsnative::detail
