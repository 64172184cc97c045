// The fine-tuning core: head replacement and freezing on a TorchScript module built here, training on images in
// memory, the saved file, and map-file errors. Image decoding and the clients are tested from Python.
#include <gtest/gtest.h>
#include <torch/csrc/autograd/generated/variable_factories.h>
#include <torch/csrc/jit/serialization/import.h>
#include <torch/utils.h>

#include <fstream>

#include "test_models.h"
#include "tsnative/engine.h"
#include "tsnative/errors.h"
#include "tsnative/finetune_steps.h"
#include "tsnative/image_dataset.h"

namespace tsnative {
namespace {

// A TorchScript classifier like a scripted torchvision model: a backbone (a 1x1 convolution, a buffer), then a
// Linear-like submodule `fc` that forward calls as self.fc(...).
torch::jit::Module make_classifier(int64_t outputs) {
  torch::jit::Module fc("Linear");
  fc.register_parameter("weight", torch::randn({outputs, 8}), false);
  fc.register_parameter("bias", torch::randn({outputs}), false);
  fc.define("def forward(self, x: Tensor) -> Tensor:\n  return torch.matmul(x, self.weight.t()) + self.bias\n");
  torch::jit::Module net("Net");
  net.register_parameter("conv", torch::randn({8, 3, 1, 1}), false);
  net.register_buffer("shift", torch::zeros({8}));
  net.register_module("fc", fc);
  // nn.Module's flag, which Module::train() sets on every submodule that has it.
  fc.register_attribute("training", c10::BoolType::get(), true);
  net.register_attribute("training", c10::BoolType::get(), true);
  net.define(
      "def forward(self, x: Tensor) -> Tensor:\n"
      "  h = torch.relu(torch.conv2d(x, self.conv)).mean([2, 3]) + self.shift\n"
      "  return self.fc.forward(h)\n");  // a module defined in C++ has no __call__
  return net;
}

// Images whose class is the brightest channel: easy to learn from channel means.
ImageDataset colour_dataset(int64_t per_class, int64_t size, uint64_t seed) {
  torch::manual_seed(static_cast<int64_t>(seed));
  ImageDataset data;
  std::vector<at::Tensor> images;
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < per_class * 3; ++i) {
    at::Tensor image = torch::randint(0, 90, {3, size, size}, torch::kByte);
    image[i % 3].add_(150);
    images.push_back(image);
    labels.push_back(i % 3);
  }
  data.images = torch::stack(images);
  data.labels = torch::tensor(labels, torch::kLong);
  data.class_names = {"0", "1", "2"};
  return data;
}

TEST(Finetune, ReplaceHeadGivesTheNewClassCountAndLinearInit) {
  auto module = make_classifier(1000);
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(0);
  EXPECT_EQ(replace_head(module, "fc", 5, generator), 8);
  const auto weight = module.attr("fc").toModule().attr("weight").toTensor();
  EXPECT_EQ(weight.sizes(), (std::vector<int64_t>{5, 8}));
  EXPECT_LE(weight.abs().max().item<double>(), 1.0 / std::sqrt(8.0));
  const auto output = module.forward({torch::randn({2, 3, 4, 4})}).toTensor();
  EXPECT_EQ(output.sizes(), (std::vector<int64_t>{2, 5}));
}

TEST(Finetune, HeadModeTrainsTheHeadAlone) {
  auto module = make_classifier(10);
  const auto trainable = set_trainable(module, "fc", Trainable::kHead);
  ASSERT_EQ(trainable.size(), 2u);
  for (const auto& parameter : module.named_parameters()) {
    EXPECT_EQ(parameter.value.requires_grad(), parameter.name.rfind("fc.", 0) == 0) << parameter.name;
  }
  set_training_mode(module, "fc", Trainable::kHead);
  EXPECT_FALSE(module.is_training());
  EXPECT_TRUE(module.attr("fc").toModule().is_training());
  EXPECT_EQ(set_trainable(module, "fc", Trainable::kAll).size(), 3u);
}

TEST(Finetune, ExplainsAMissingOrUnusableHead) {
  auto module = make_classifier(10);
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(0);
  try {
    replace_head(module, "classifier", 2, generator);
    FAIL() << "expected InvalidValue";
  } catch (const InvalidValue& e) {
    EXPECT_NE(std::string(e.what()).find("no submodule 'classifier' (its children: fc)"), std::string::npos);
  }
  torch::jit::Module frozen("Frozen");
  frozen.define("def forward(self, x: Tensor) -> Tensor:\n  return x\n");
  try {
    replace_head(frozen, "fc", 2, generator);
    FAIL() << "expected InvalidValue";
  } catch (const InvalidValue& e) {
    EXPECT_NE(std::string(e.what()).find("frozen"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("--no-optimize"), std::string::npos);
  }
  torch::jit::Module no_bias("NoBias");
  torch::jit::Module head("Head");
  head.register_parameter("weight", torch::randn({2, 3}), false);
  head.define("def forward(self, x: Tensor) -> Tensor:\n  return x\n");
  no_bias.register_module("fc", head);
  EXPECT_THROW(replace_head(no_bias, "fc", 2, generator), InvalidValue);
}

TEST(Finetune, LearnsFromImagesInMemoryAndSavesTheBestEpoch) {
  testing::TempDir dir;
  const auto model_path = dir.file("net.pt");
  make_classifier(1000).save(model_path);
  const auto train = colour_dataset(20, 8, 1);
  const auto test = colour_dataset(10, 8, 2);
  const auto loaded_before = torch::jit::load(model_path).attr("conv").toTensor().clone();

  FinetuneOptions options;
  options.classes = 3;
  options.epochs = 8;
  options.lr = 0.05;
  options.batch_size = 8;
  options.size = 8;
  options.out = dir.file("out/best.pt");
  std::vector<int> reported;
  const auto result =
      finetune(model_path, train, test, options, [&](const EpochStats& s) { reported.push_back(s.epoch); });

  EXPECT_EQ(reported, (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8}));
  ASSERT_EQ(result.history.size(), 8u);
  EXPECT_GT(result.best_test_accuracy, 0.8);  // chance is 1/3
  EXPECT_EQ(result.trainable_parameters, 3 * 8 + 3);

  Engine engine(options.out);
  const auto logits = engine.run({normalize_images(test.images)}).toTensor();
  const double accuracy = logits.argmax(1).eq(test.labels).to(torch::kDouble).mean().item<double>();
  EXPECT_DOUBLE_EQ(accuracy, result.best_test_accuracy);
  EXPECT_NE(engine.metadata_json().find("\"finetune\""), std::string::npos);
  const auto saved = torch::jit::load(options.out);
  EXPECT_TRUE(torch::equal(saved.attr("conv").toTensor(), loaded_before));  // the frozen backbone did not move
}

TEST(ImageDataset, MapFileErrorsNameTheLine) {
  testing::TempDir dir;
  std::ofstream(dir.file("not-an-image.png")) << "text, not pixels";
  const auto write_map = [&](const std::string& text) {
    std::ofstream(dir.file("train.txt")) << text;
    return dir.file("train.txt");
  };
  const auto message_for = [&](const std::string& text) {
    try {
      load_image_dataset(write_map(text), 3, 8);
    } catch (const DataError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string map = dir.file("train.txt");
  EXPECT_EQ(message_for("# comment\nnot-an-image.png 1\n"),
            map + ":2: expected 'path<TAB>class_index', got 'not-an-image.png 1'");
  EXPECT_EQ(message_for("not-an-image.png\tone\n"), map + ":1: class index 'one' is not an integer");
  EXPECT_EQ(message_for("\nnot-an-image.png\t3\n"),
            map + ":2: class index 3 is out of range for 3 classes (expected 0 to 2)");
  EXPECT_NE(message_for("missing.png\t0\n").find(map + ":1: image 'missing.png' not found"), std::string::npos);
  EXPECT_NE(message_for("not-an-image.png\t0\n").find(map + ":1: image '"), std::string::npos);
  EXPECT_NE(message_for("not-an-image.png\t0\n").find("not a PNG or JPEG image"), std::string::npos);
}

}  // namespace
}  // namespace tsnative
