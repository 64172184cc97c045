// Dynamic batching: the row arithmetic (batch_rows.h, pure functions: keys, CUDA-graph padding, joining and
// cutting rows) and the Engine's batcher where C++ can test more than Python: destroying an engine while callers
// wait for their batch.
#include <gtest/gtest.h>
#include <torch/csrc/autograd/generated/variable_factories.h>
#include <torch/csrc/jit/api/module.h>

#include <chrono>
#include <memory>
#include <thread>

#include "batching/batch_rows.h"
#include "test_models.h"
#include "tsnative/engine.h"
#include "tsnative/metadata.h"

namespace tsnative {
namespace {

using detail::batchable;
using detail::declared_batches;
using detail::join_rows;
using detail::padded_rows;
using detail::take_rows;
using detail::unsplittable;

std::vector<int64_t> sizes(const at::Tensor& tensor) { return tensor.sizes().vec(); }

TEST(BatchRows, PadsToTheSmallestCapturedBatchThatHoldsTheRows) {
  EXPECT_EQ(padded_rows(3, {1, 4, 8}), 4);
  EXPECT_EQ(padded_rows(4, {8, 1, 4}), 4);  // exactly a captured size: no padding
  EXPECT_EQ(padded_rows(5, {16, 8}), 8);
  EXPECT_EQ(padded_rows(1, {1, 4, 8}), 1);
  EXPECT_EQ(padded_rows(9, {1, 4, 8}), 9);  // larger than every graph: run eagerly as it is
  EXPECT_EQ(padded_rows(2, {}), 2);
}

TEST(BatchRows, DeclaredBatchesAreThoseOfTheCallsShape) {
  const CallShapes declared = {{{8, 3, 4, 4}}, {{1, 3, 4, 4}}, {{4, 3, 5, 5}}, {{2, 3, 4, 4}, {2, 3, 4, 4}},
                               {{8, 3, 4, 4}}, {{2, 3, 4}}};
  EXPECT_EQ(declared_batches(declared, {torch::zeros({3, 3, 4, 4})}), (std::vector<int64_t>{1, 8}));
  EXPECT_EQ(declared_batches(declared, {torch::zeros({1, 3, 5, 5})}), (std::vector<int64_t>{4}));
  EXPECT_EQ(declared_batches(declared, {torch::zeros({1, 3, 4, 4}), torch::zeros({1, 3, 4, 4})}),
            (std::vector<int64_t>{2}));
  EXPECT_TRUE(declared_batches(declared, {torch::zeros({1, 3, 6, 6})}).empty());
  EXPECT_TRUE(declared_batches({{{2, 4}, {3, 4}}}, {torch::zeros({1, 4}), torch::zeros({1, 4})}).empty());
}

TEST(BatchRows, CallsShareAKeyWhenAllButDimensionZeroAgree) {
  const auto one = batchable({torch::zeros({1, 3, 8})}, 16);
  const auto four = batchable({torch::zeros({4, 3, 8})}, 16);
  ASSERT_TRUE(one && four);
  EXPECT_EQ(one->key, four->key);
  EXPECT_EQ(four->rows, 4);
  EXPECT_NE(one->key, batchable({torch::zeros({1, 3, 9})}, 16)->key);
  EXPECT_NE(one->key, batchable({torch::zeros({1, 3, 8}, torch::kFloat64)}, 16)->key);
  EXPECT_NE(one->key, batchable({torch::zeros({1, 24})}, 16)->key);
  EXPECT_NE(one->key, batchable({torch::zeros({1, 3, 8}), torch::zeros({1, 3, 8})}, 16)->key);
}

TEST(BatchRows, OnlyTensorsWithOneSharedBatchAreBatchable) {
  EXPECT_FALSE(batchable({torch::zeros({17, 2})}, 16));                       // more rows than a batch holds
  EXPECT_FALSE(batchable({torch::zeros({0, 2})}, 16));                        // no rows
  EXPECT_FALSE(batchable({torch::zeros({})}, 16));                            // no dimension 0
  EXPECT_FALSE(batchable({torch::zeros({2, 2}), torch::zeros({1, 2})}, 16));  // no shared dimension 0
  EXPECT_FALSE(batchable({torch::zeros({2, 2}), c10::IValue(3)}, 16));        // not a tensor
  EXPECT_FALSE(batchable({at::Tensor()}, 16));
  EXPECT_FALSE(batchable({}, 16));
}

TEST(BatchRows, JoinsRowsInOrderAndPadsWithTheLastRow) {
  const std::vector<c10::IValue> a = {torch::full({1, 2}, 1.0), torch::full({1, 3}, 10.0)};
  const std::vector<c10::IValue> b = {torch::full({2, 2}, 2.0), torch::full({2, 3}, 20.0)};
  const auto joined = join_rows({&a, &b}, 2);
  ASSERT_EQ(joined.size(), 2u);
  const auto expected = torch::tensor({1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0}, torch::kFloat32);
  EXPECT_TRUE(torch::equal(joined[0].toTensor(), expected.reshape({5, 2})));
  EXPECT_EQ(sizes(joined[1].toTensor()), (std::vector<int64_t>{5, 3}));
  EXPECT_TRUE(torch::equal(joined[1].toTensor()[4], torch::full({3}, 20.0)));
  // One call without padding is passed on as it is, not copied.
  EXPECT_TRUE(join_rows({&a}, 0)[0].toTensor().is_same(a[0].toTensor()));
}

TEST(BatchRows, SaysWhyAnOutputCannotBeCut) {
  const auto rows = torch::zeros({4, 2});
  EXPECT_FALSE(unsplittable(rows, 4));
  EXPECT_EQ(unsplittable(c10::ivalue::Tuple::create({rows, torch::zeros({})}), 4),
            "output[1] is a 0-dimensional tensor");
  EXPECT_EQ(unsplittable(rows, 8), "output has 4 in dimension 0, not the batch's 8 rows");
  c10::Dict<std::string, at::Tensor> dict;
  dict.insert("mean", torch::zeros({1, 2}));
  EXPECT_EQ(unsplittable(dict, 4), "output['mean'] has 1 in dimension 0, not the batch's 4 rows");
  EXPECT_EQ(unsplittable(c10::ivalue::Tuple::create({rows, c10::IValue(2)}), 4), "output[1] is an int, not a tensor");
  EXPECT_EQ(unsplittable(c10::IValue(), 4), "output is None, not a tensor");
}

TEST(BatchRows, TakesACopyOfTheCallersRowsAndKeepsARepeatedTensorOne) {
  const auto output = torch::arange(12, torch::kFloat32).reshape({6, 2});
  const auto taken = take_rows(c10::ivalue::Tuple::create({output, output}), 2, 3);
  const auto& elements = taken.toTupleRef().elements();
  const auto first = elements[0].toTensor();
  EXPECT_TRUE(torch::equal(first, output.narrow(0, 2, 3)));
  EXPECT_EQ(first.storage().nbytes(), 3 * 2 * sizeof(float));  // not the batch's storage
  EXPECT_TRUE(first.is_same(elements[1].toTensor()));
}

// --- The Engine's batcher --------------------------------------------------------------------------------------

class BatchingTest : public ::testing::Test {
 protected:
  testing::TempDir dir;

  // x * 2 + 1 with metadata recording a dynamic batch, as tsnative.export writes it.
  std::string model() const {
    torch::jit::Module module("Affine");
    module.define("def forward(self, x: Tensor) -> Tensor:\n  return x * 2.0 + 1.0\n");
    const std::string path = dir.file("affine.pt");
    module.save(path, {{kMetadataFile, metadata_text(R"({"inputs": [{"name": "x", "type": "Tensor", "dtype": )"
                                                     R"("float32", "shape": [-1, 4]}]})")}});
    return path;
  }

  static void wait_until_queued(const Engine& engine, int64_t calls) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    while (engine.load_report().batching.queued < calls) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the calls were never queued";
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
};

TEST_F(BatchingTest, DestroyingTheEngineRunsTheCallsWaitingForTheirBatch) {
  EngineOptions options;
  options.max_batch = 8;
  options.batch_delay_us = 60'000'000;  // the batch would wait a minute for 5 more calls
  auto engine = std::make_unique<Engine>(model(), options);
  ASSERT_TRUE(engine->load_report().batching.enabled);
  std::vector<at::Tensor> outputs(3);
  std::vector<std::thread> callers;
  for (int i = 0; i < 3; ++i) {
    callers.emplace_back([&, i] { outputs[i] = engine->run({torch::full({1, 4}, float(i))}).toTensor(); });
  }
  wait_until_queued(*engine, 3);
  engine.reset();  // while the three wait inside run()
  for (auto& caller : callers) caller.join();
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(torch::equal(outputs[i], torch::full({1, 4}, 2.0 * i + 1.0))) << i;
}

TEST_F(BatchingTest, CloseRunsTheQueuedCallsAndLaterCallsAreRefused) {
  EngineOptions options;
  options.max_batch = 4;
  options.batch_delay_us = 60'000'000;
  Engine engine(model(), options);
  at::Tensor output;
  std::thread caller([&] { output = engine.run({torch::ones({1, 4})}).toTensor(); });
  wait_until_queued(engine, 1);
  engine.close();
  caller.join();
  EXPECT_TRUE(torch::equal(output, torch::full({1, 4}, 3.0)));
  const BatchingReport report = engine.load_report().batching;
  EXPECT_EQ(report.batches, 1);
  EXPECT_EQ(report.queued, 0);
  EXPECT_THROW(engine.run({torch::ones({1, 4})}), InvalidValue);
}

TEST_F(BatchingTest, ConcurrentCallersGetTheirOwnRows) {
  EngineOptions options;
  options.max_batch = 8;
  options.batch_delay_us = 2000;
  const Engine engine(model(), options);
  constexpr int kThreads = 8;
  std::vector<int> mismatches(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int call = 0; call < 50; ++call) {
        const auto x = torch::full({1, 4}, float(t * 100 + call));
        if (!torch::equal(engine.run({x}).toTensor(), x * 2.0 + 1.0)) ++mismatches[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
  const BatchingReport report = engine.load_report().batching;
  EXPECT_EQ(report.calls, kThreads * 50);
  EXPECT_EQ(report.rows, kThreads * 50);
}

}  // namespace
}  // namespace tsnative
