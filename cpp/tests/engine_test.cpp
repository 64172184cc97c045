#include "tsnative/engine.h"

#include <gtest/gtest.h>
#include <torch/csrc/autograd/generated/variable_factories.h>
#include <torch/cuda.h>
#include <torch/utils.h>

#include <algorithm>
#include <thread>
#include <type_traits>

#include "test_models.h"
#include "tsnative/errors.h"

namespace tsnative {
namespace {

using testing::save_module;
using testing::TempDir;

class EngineTest : public ::testing::Test {
 protected:
  TempDir dir;
};

TEST_F(EngineTest, RunsForwardAndRecordsLoad) {
  const auto path = save_module(dir.file("double.pt"), "def forward(self, x: Tensor) -> Tensor:\n  return x * 2\n");
  Engine engine(path);
  const auto x = torch::arange(6, torch::kFloat32).reshape({2, 3});
  const auto y = engine.run({x}).toTensor();
  EXPECT_TRUE(torch::equal(y, x * 2));
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(engine.device(), c10::Device(c10::kCPU));
  EXPECT_GT(engine.load_seconds(), 0.0);
  EXPECT_EQ(engine.path(), path);
  EXPECT_EQ(engine.signature().str(), "forward(x: Tensor) -> Tensor");
}

TEST_F(EngineTest, TupleInputsAndOutputs) {
  const auto path = save_module(dir.file("rnn.pt"),
                                "def forward(self, x: Tensor, h: Tensor) -> Tuple[Tensor, Tensor]:\n"
                                "  new_h = torch.tanh(x + h)\n"
                                "  return new_h, new_h\n");
  Engine engine(path);
  const auto x = torch::randn({2, 4});
  const auto h = torch::randn({2, 4});
  const auto output = engine.run({x, h}).toTuple();
  ASSERT_EQ(output->elements().size(), 2u);
  EXPECT_TRUE(torch::allclose(output->elements()[0].toTensor(), torch::tanh(x + h)));
  EXPECT_EQ(engine.signature().returns, "Tuple[Tensor, Tensor]");
}

TEST_F(EngineTest, DictAndListStructures) {
  const auto path = save_module(dir.file("dict.pt"),
                                "def forward(self, inputs: Dict[str, Tensor], scales: List[float]) -> "
                                "List[Tensor]:\n"
                                "  return [inputs['a'] * scales[0], inputs['b'] * scales[1]]\n");
  Engine engine(path);
  c10::Dict<std::string, at::Tensor> inputs;
  inputs.insert("a", torch::ones({2}));
  inputs.insert("b", torch::full({3}, 2.0));
  const auto output = engine.run({inputs, c10::List<double>({3.0, 0.5})}).toList();
  ASSERT_EQ(output.size(), 2u);
  EXPECT_TRUE(torch::equal(output.get(0).toTensor(), torch::full({2}, 3.0)));
  EXPECT_TRUE(torch::equal(output.get(1).toTensor(), torch::ones({3})));
}

TEST_F(EngineTest, ScalarsStringsAndDefaults) {
  const auto path = save_module(dir.file("scalars.pt"),
                                "def forward(self, n: int, scale: float = 2.0, tag: str = 'x', flag: bool = True) "
                                "-> Tuple[float, str, bool, Optional[int]]:\n"
                                "  return float(n) * scale, tag + '!', not flag, None\n");
  Engine engine(path);
  const auto output = engine.run({c10::IValue(int64_t{3})}).toTupleRef().elements();
  EXPECT_DOUBLE_EQ(output[0].toDouble(), 6.0);
  EXPECT_EQ(output[1].toStringRef(), "x!");
  EXPECT_FALSE(output[2].toBool());
  EXPECT_TRUE(output[3].isNone());
  EXPECT_EQ(engine.signature().arguments.at(1).default_value.value_or(""), "2.");
}

TEST_F(EngineTest, ChosenMethod) {
  const auto path = save_module(dir.file("two.pt"),
                                "def forward(self, x: Tensor) -> Tensor:\n  return x + 1\n"
                                "def triple(self, x: Tensor) -> Tensor:\n  return x * 3\n");
  Engine engine(path, EngineOptions{.method = "triple"});
  EXPECT_TRUE(torch::equal(engine.run({torch::ones({2})}).toTensor(), torch::full({2}, 3.0)));
  EXPECT_EQ(engine.signature().name, "triple");
  EXPECT_THROW(Engine(path, EngineOptions{.method = "missing"}), InvalidValue);
}

TEST_F(EngineTest, WrongArgumentsAreTypeErrorsAndDoNotPoison) {
  const auto path = save_module(dir.file("double.pt"), "def forward(self, x: Tensor) -> Tensor:\n  return x * 2\n");
  Engine engine(path);
  EXPECT_THROW(engine.run({}), InvalidType);
  EXPECT_THROW(engine.run({torch::ones({1}), torch::ones({1})}), InvalidType);
  try {
    engine.run({c10::IValue(std::string("text"))});
    FAIL() << "a str for a Tensor argument was accepted";
  } catch (const InvalidType& e) {
    EXPECT_STREQ(e.what(), "forward(): argument 'x' (position 1) expected Tensor, got str");
  }
  EXPECT_TRUE(torch::equal(engine.run({torch::ones({2})}).toTensor(), torch::full({2}, 2.0)));
}

TEST_F(EngineTest, ModelErrorsAreInferenceErrors) {
  const auto path =
      save_module(dir.file("matmul.pt"), "def forward(self, x: Tensor) -> Tensor:\n  return x @ torch.ones(4, 5)\n");
  Engine engine(path);
  try {
    engine.run({torch::ones({2, 3})});
    FAIL() << "a shape mismatch inside the model did not raise";
  } catch (const InferenceError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot be multiplied"), std::string::npos) << e.what();
  }
  EXPECT_EQ(engine.run({torch::ones({2, 4})}).toTensor().sizes(), (std::vector<int64_t>{2, 5}));
}

TEST_F(EngineTest, ConcurrentRunsMatchSerialOnes) {
  const auto path = save_module(dir.file("mlp.pt"),
                                "def forward(self, x: Tensor) -> Tensor:\n"
                                "  return torch.tanh(x @ x.t()).sum(1)\n");
  // With oneDNN fusion the first calls for a shape run the profiling graph, whose last bits may differ from the
  // fused one's: warm the shape up so that the serial references come from the optimised graph.
  EngineOptions options;
  options.warmup_shapes = {{{16, 8}}};
  const Engine engine(path, options);
  constexpr int kThreads = 8;
  std::vector<at::Tensor> inputs, expected;
  for (int i = 0; i < kThreads; ++i) {
    inputs.push_back(torch::randn({16, 8}));
    expected.push_back(engine.run({inputs.back()}).toTensor());
  }
  std::vector<int> mismatches(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int call = 0; call < 50; ++call) {
        if (!torch::equal(engine.run({inputs[t]}).toTensor(), expected[t])) ++mismatches[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

TEST_F(EngineTest, ReducedPrecisionConvertsWeightsAndFloatInputsOnly) {
  torch::jit::Module module("Scaled");
  const auto weight = torch::tensor({1.1f, -2.3f, 3.7f, 0.01f});
  module.register_parameter("weight", weight, false);
  module.define(
      "def forward(self, x: Tensor, n: Tensor) -> Tuple[Tensor, Tensor]:\n"
      "  return (x * self.weight + 0.1, n + 1)\n");
  const auto path = dir.file("scaled.pt");
  module.save(path);
  const auto x = torch::tensor({0.3f, 1.7f, -0.9f, 12.5f});
  const auto n = torch::tensor({1, 2}, torch::kInt64);
  // What the same arithmetic gives in bfloat16, read back as float32: the engine must match it bit for bit.
  const auto expected = (x.to(torch::kBFloat16) * weight.to(torch::kBFloat16) + 0.1).to(torch::kFloat32);
  for (const bool freeze : {true, false}) {  // the weight as a graph constant (frozen) or as a parameter
    Engine engine(path, EngineOptions{.freeze = freeze, .precision = "bf16"});
    const auto outputs = engine.run({x, n}).toTuple();
    const auto scaled = outputs->elements()[0].toTensor();
    EXPECT_EQ(scaled.scalar_type(), torch::kFloat32) << "freeze " << freeze;
    EXPECT_TRUE(torch::equal(scaled, expected)) << "freeze " << freeze << ": " << scaled << " vs " << expected;
    EXPECT_FALSE(torch::equal(scaled, x * weight + 0.1));
    EXPECT_TRUE(torch::equal(outputs->elements()[1].toTensor(), n + 1));
  }
  EXPECT_THROW(Engine(path, EngineOptions{.precision = "fp8"}), InvalidValue);
}

// A moved-from Engine would hold no model and crash on any call: moves are deleted (hold it in a unique_ptr).
static_assert(!std::is_move_constructible_v<Engine> && !std::is_move_assignable_v<Engine>);

TEST_F(EngineTest, ExecutorPerDeclaredShape) {
  const auto path = save_module(dir.file("affine.pt"), "def forward(self, x: Tensor) -> Tensor:\n  return x * 2 + 1\n");
  Engine engine(path, EngineOptions{.warmup_shapes = {{{3}}, {{5}}}});
  const auto& applied = engine.optimizations();
  EXPECT_NE(std::find(applied.begin(), applied.end(), "executor_per_shape x2"), applied.end());
  for (const int64_t size : {3, 5, 4}) {  // declared, declared, the method's own executor
    const auto x = torch::randn({size});
    EXPECT_TRUE(torch::allclose(engine.run({x}).toTensor(), x * 2 + 1)) << "size " << size;
  }
  // A scalar argument (here a default the binding fills in) is not a shape: no executor, and a note saying why.
  const auto scaled =
      save_module(dir.file("scaled.pt"), "def forward(self, x: Tensor, k: float = 2.0) -> Tensor:\n  return x * k\n");
  Engine with_scalar(scaled, EngineOptions{.warmup_shapes = {{{3}}}});
  const auto& notes = with_scalar.optimizations();
  EXPECT_NE(std::find(notes.begin(), notes.end(),
                      "executor_per_shape skipped (the method takes arguments other than tensors)"),
            notes.end());
  EXPECT_TRUE(torch::equal(with_scalar.run({torch::ones({3})}).toTensor(), torch::full({3}, 2.0)));
}

TEST_F(EngineTest, CudaWhenAvailable) {
  const auto path = save_module(dir.file("double.pt"), "def forward(self, x: Tensor) -> Tensor:\n  return x * 2\n");
  if (!torch::cuda::is_available()) {
    EXPECT_THROW(Engine(path, EngineOptions{.device = "cuda"}), DeviceUnavailable);
    GTEST_SKIP() << "no CUDA device: only the refusal was checked";
  }
  Engine engine(path, EngineOptions{.device = "cuda"});
  EXPECT_EQ(engine.device(), c10::Device(c10::kCUDA, 0));
  const auto y = engine.run({torch::ones({3})}).toTensor();
  EXPECT_TRUE(y.device().is_cpu());
  EXPECT_TRUE(torch::equal(y, torch::full({3}, 2.0)));
  Engine kept(path, EngineOptions{.device = "cuda", .outputs_on_device = true});
  EXPECT_TRUE(kept.run({torch::ones({3})}).toTensor().device().is_cuda());
}

TEST_F(EngineTest, CudaGraphsWhenAvailable) {
  const auto path = save_module(dir.file("affine.pt"), "def forward(self, x: Tensor) -> Tensor:\n  return x * 2 + 1\n");
  EXPECT_THROW(Engine(path, EngineOptions{.cuda_graphs = true}), InvalidValue);  // CPU
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device: only the refusal on the CPU was checked";
  EXPECT_THROW(Engine(path, EngineOptions{.device = "cuda", .cuda_graphs = true}), InvalidValue);  // no shapes
  Engine engine(path, EngineOptions{.device = "cuda", .warmup_shapes = {{{3}}}, .cuda_graphs = true});
  EXPECT_EQ(engine.optimizations().back(), "cuda_graphs x1");
  for (const int64_t size : {3, 5, 3}) {  // replayed, eager, replayed
    const auto x = torch::randn({size});
    EXPECT_TRUE(torch::allclose(engine.run({x}).toTensor(), x * 2 + 1)) << "size " << size;
  }
}

}  // namespace
}  // namespace tsnative
