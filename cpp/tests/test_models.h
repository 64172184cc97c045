// Small TorchScript models written from C++ (Module::define + save), so the C++ tests need no Python.
#pragma once

#include <torch/csrc/jit/api/module.h>

#include <filesystem>
#include <random>
#include <string>

namespace tsnative::testing {

// A folder under the system temp dir, removed with the object.
class TempDir {
 public:
  TempDir() {
    std::random_device random;
    path_ = std::filesystem::temp_directory_path() / ("tsnative-test-" + std::to_string(random()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Compiles TorchScript `source` (methods of one class) and saves it to `path`.
inline std::string save_module(const std::string& path, const std::string& source) {
  torch::jit::Module module("TestModule");
  module.define(source);
  module.save(path);
  return path;
}

}  // namespace tsnative::testing
