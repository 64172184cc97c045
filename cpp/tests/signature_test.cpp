#include "tsnative/signature.h"

#include <ATen/ops/ones.h>
#include <gtest/gtest.h>
#include <torch/csrc/jit/frontend/function_schema_parser.h>

#include "tsnative/errors.h"

namespace tsnative {
namespace {

c10::FunctionSchema parse(const std::string& text) { return torch::jit::parseSchema(text); }

TEST(Signature, DescribesWithoutSelf) {
  const auto signature = describe(parse("forward(Any self, Tensor x, Tensor h, int n=3) -> (Tensor, Tensor)"));
  EXPECT_EQ(signature.name, "forward");
  ASSERT_EQ(signature.arguments.size(), 3u);
  EXPECT_EQ(signature.arguments[0].name, "x");
  EXPECT_EQ(signature.arguments[2].default_value.value_or(""), "3");
  EXPECT_EQ(signature.str(), "forward(x: Tensor, h: Tensor, n: int = 3) -> Tuple[Tensor, Tensor]");
}

TEST(Signature, BindAppendsDefaults) {
  const auto schema = parse("forward(Any self, Tensor x, int n=3) -> Tensor");
  std::vector<c10::IValue> inputs{at::ones({1})};
  bind_arguments(schema, inputs);
  ASSERT_EQ(inputs.size(), 2u);
  EXPECT_EQ(inputs[1].toInt(), 3);
}

TEST(Signature, BindRejectsCountAndTypeWithClearMessages) {
  const auto schema = parse("forward(Any self, Tensor x, Tensor h) -> Tensor");
  std::vector<c10::IValue> one{at::ones({1})};
  try {
    bind_arguments(schema, one);
    FAIL();
  } catch (const InvalidType& e) {
    EXPECT_STREQ(e.what(),
                 "forward() missing argument 'h' (position 2, Tensor): takes 2 argument(s) (x: Tensor, h: Tensor), "
                 "got 1");
  }
  std::vector<c10::IValue> wrong{at::ones({1}), c10::IValue(int64_t{4})};
  try {
    bind_arguments(schema, wrong);
    FAIL();
  } catch (const InvalidType& e) {
    EXPECT_STREQ(e.what(), "forward(): argument 'h' (position 2) expected Tensor, got int");
  }
}

}  // namespace
}  // namespace tsnative
