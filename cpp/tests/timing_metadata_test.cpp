// The timing routine, and the metadata of model files (the format itself: metadata_test.cpp).
#include <gtest/gtest.h>
#include <torch/csrc/autograd/generated/variable_factories.h>
#include <torch/utils.h>

#include "test_models.h"
#include "tsnative/engine.h"
#include "tsnative/errors.h"
#include "tsnative/metadata.h"
#include "tsnative/timing.h"

namespace tsnative {
namespace {

TEST(Timing, CountsRunsAndOrdersPercentiles) {
  testing::TempDir dir;
  const auto path = testing::save_module(dir.file("m.pt"), "def forward(self, x: Tensor) -> Tensor:\n  return x @ x\n");
  const Engine engine(path);
  const auto stats = time_engine(engine, {torch::randn({32, 32})}, {.warmup = 2, .iterations = 7, .batch_size = 4});
  ASSERT_EQ(stats.samples_ms.size(), 7u);
  EXPECT_GT(stats.first_ms, 0.0);
  EXPECT_LE(stats.min_ms, stats.p50_ms);
  EXPECT_LE(stats.p50_ms, stats.p90_ms);
  EXPECT_LE(stats.p90_ms, stats.p99_ms);
  EXPECT_LE(stats.p99_ms, stats.max_ms);
  EXPECT_EQ(stats.p99_ms, stats.max_ms);  // nearest rank of 99% of 7 samples is the 7th
  EXPECT_NEAR(stats.throughput_per_s, 4 * 7 / (stats.mean_ms * 7 / 1000.0), 1e-6);
  EXPECT_THROW(time_engine(engine, {torch::randn({2, 2})}, {.iterations = 0}), InvalidValue);
}

TEST(Metadata, ReadsTheFilesMetadataWithoutLoadingIt) {
  testing::TempDir dir;
  const std::string text =
      R"({"format": "tsnative.metadata/1", "inputs": [{"name": "x", "type": "Tensor", "dtype": "float32", "shape": [-1, 4]}]})";
  torch::jit::Module module("Identity");
  module.define("def forward(self, x: Tensor) -> Tensor:\n  return x\n");
  const auto with = dir.file("with.pt");
  module.save(with, {{kMetadataFile, text}});
  EXPECT_EQ(read_metadata_json(with), text);
  EXPECT_EQ(read_metadata_json(with), Engine(with).metadata_json());  // what a load reads
  EXPECT_EQ(read_metadata_json(testing::save_module(dir.file("without.pt"),
                                                    "def forward(self, x: int) -> int:\n"
                                                    "  return x\n")),
            "");
  EXPECT_THROW(read_metadata_json(dir.file("missing.pt")), FileNotFound);
}

TEST(Metadata, AFileFromANewerTsnativeIsRefusedAtLoad) {
  testing::TempDir dir;
  const std::string text =
      R"({"format": "tsnative.metadata/2", "inputs": [{"name": "x", "type": "Tensor", "dtype": "float32", "shape": [2]}]})";
  torch::jit::Module module("Identity");
  module.define("def forward(self, x: Tensor) -> Tensor:\n  return x\n");
  const auto path = dir.file("newer.pt");
  module.save(path, {{kMetadataFile, text}});
  EXPECT_EQ(read_metadata_json(path), text);  // as stored; checking is the reader's job
  try {
    const Engine engine(path);
    FAIL() << "loaded a file from a newer tsnative";
  } catch (const ModelLoadError& e) {
    EXPECT_EQ(e.reason(),
              "metadata: written by a newer tsnative (tsnative.metadata/2); this version reads up to "
              "tsnative.metadata/1");
  }
}

}  // namespace
}  // namespace tsnative
