// Each kind of file that is not a TorchScript model gets its own error and reason.
#include <gtest/gtest.h>

#include <fstream>

#include "test_models.h"
#include "tsnative/engine.h"
#include "tsnative/errors.h"
#include "tsnative/runtime.h"

namespace tsnative {
namespace {

using testing::TempDir;

std::string write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

// The reason a ModelLoadError gives for `path`, or a test failure when the load does not throw one.
std::string load_failure_reason(const std::string& path) {
  try {
    Engine engine(path);
  } catch (const ModelLoadError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << "the message names the path";
    EXPECT_EQ(std::string(e.what()).find("Exception raised from"), std::string::npos) << "no C++ backtrace";
    return e.reason();
  }
  ADD_FAILURE() << path << " loaded";
  return "";
}

TEST(LoadErrors, MissingFile) {
  TempDir dir;
  EXPECT_THROW(Engine(dir.file("absent.pt")), FileNotFound);
}

TEST(LoadErrors, EachBadFileHasItsReason) {
  TempDir dir;
  EXPECT_EQ(load_failure_reason(write_file(dir.file("empty.pt"), "")), "the file is empty (0 bytes)");
  EXPECT_NE(load_failure_reason(write_file(dir.file("text.pt"), "hello, not a model\n")).find("not a zip archive"),
            std::string::npos);
  EXPECT_NE(load_failure_reason(write_file(dir.file("pickle.pt"), std::string("\x80\x02}q\x00.", 6)))
                .find("legacy (non-zip) torch.save"),
            std::string::npos);
  EXPECT_EQ(load_failure_reason(dir.file("")), "it is a directory, not a file");

  const auto good = testing::save_module(dir.file("good.pt"), "def forward(self, x: Tensor) -> Tensor:\n  return x\n");
  std::ifstream in(good, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto truncated = write_file(dir.file("truncated.pt"), bytes.substr(0, bytes.size() / 2));
  EXPECT_NE(load_failure_reason(truncated).find("truncated or corrupt zip archive"), std::string::npos);
}

TEST(DeviceErrors, MalformedDeviceIsInvalidValue) {
  TempDir dir;
  const auto path = testing::save_module(dir.file("m.pt"), "def forward(self, x: Tensor) -> Tensor:\n  return x\n");
  EXPECT_THROW(Engine(path, EngineOptions{.device = "gpu"}), InvalidValue);
  EXPECT_THROW(Engine(path, EngineOptions{.device = "meta"}), InvalidValue);
  EXPECT_THROW(configure_runtime({.threads = -1}), InvalidValue);  // threads are process-wide, not an engine's
}

}  // namespace
}  // namespace tsnative
