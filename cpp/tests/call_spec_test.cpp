// The call spec of AOTInductor packages (cpp/src/backends/aoti/call_spec.h): pytree specs read, IValues flattened to
// the loader's tensors and rebuilt from them.
#include "backends/aoti/call_spec.h"

#include <ATen/ops/ones.h>
#include <gtest/gtest.h>

#include "tsnative/errors.h"

namespace tsnative::detail {
namespace {

// The specs torch.utils._pytree.treespec_dumps writes for forward(x, pair, d) and its {"sum": t, "prod": (t, t)}.
const char* kLeaf = R"({"type": null, "context": null, "children_spec": []})";

std::string node(const std::string& type, const std::string& context, const std::vector<std::string>& children) {
  std::string text = R"({"type": ")" + type + R"(", "context": )" + context + R"(, "children_spec": [)";
  for (size_t i = 0; i < children.size(); ++i) text += (i ? ", " : "") + children[i];
  return text + "]}";
}

std::string in_spec() {
  const std::string pair = node("builtins.tuple", "\"null\"", {kLeaf, kLeaf});
  const std::string dict = node("builtins.dict", R"("[\"b\", \"a\"]")", {kLeaf, kLeaf});
  const std::string args = node("builtins.tuple", "\"null\"", {kLeaf, pair, dict});
  return "[1, " + node("builtins.tuple", "\"null\"", {args, node("builtins.dict", R"("[]")", {})}) + "]";
}

template <typename Error, typename Call>
std::string error_of(Call call) {
  try {
    call();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(CallSpec, ReadsArgumentsAndTheirTypes) {
  const auto arguments = positional_arguments(parse_tree_spec(in_spec()));
  ASSERT_EQ(arguments.size(), 3u);
  EXPECT_EQ(type_text(arguments[0]), "Tensor");
  EXPECT_EQ(type_text(arguments[1]), "(Tensor, Tensor)");
  EXPECT_EQ(type_text(arguments[2]), "Dict(str, Tensor)");
  EXPECT_EQ(arguments[2].keys, (std::vector<std::string>{"b", "a"}));
  const std::string one_tuple = node("builtins.tuple", "\"null\"", {kLeaf});
  EXPECT_EQ(type_text(parse_tree_spec("[1, " + node("builtins.list", "null", {kLeaf, one_tuple}) + "]")), "Any[]");
}

TEST(CallSpec, FlattensByTheSpecsKeyOrderAndRebuilds) {
  const auto arguments = positional_arguments(parse_tree_spec(in_spec()));
  c10::impl::GenericDict dict(c10::StringType::get(), c10::TensorType::get());
  dict.insert("a", at::ones({1}) * 2);  // given in another order than recorded
  dict.insert("b", at::ones({1}) * 3);
  std::vector<at::Tensor> flat;
  flatten(dict, arguments[2], "d", flat);
  ASSERT_EQ(flat.size(), 2u);
  EXPECT_EQ(flat[0].item<float>(), 3.0f);  // "b" first, as recorded
  size_t next = 0;
  const c10::IValue rebuilt = unflatten(flat, next, arguments[2]);
  EXPECT_EQ(next, 2u);
  EXPECT_EQ(rebuilt.toGenericDict().at("a").toTensor().item<float>(), 2.0f);
  EXPECT_EQ(leaf_count(parse_tree_spec(in_spec())), 5u);
}

TEST(CallSpec, FlattenNamesWhatDoesNotMatch) {
  const auto arguments = positional_arguments(parse_tree_spec(in_spec()));
  c10::impl::GenericDict dict(c10::StringType::get(), c10::TensorType::get());
  dict.insert("a", at::ones({1}));
  std::vector<at::Tensor> flat;
  EXPECT_EQ(error_of<InvalidValue>([&] { flatten(dict, arguments[2], "d", flat); }),
            "input 'd': expected a dict with keys ['b', 'a'], got keys ['a']");
  EXPECT_EQ(error_of<InvalidType>([&] { flatten(at::ones({1}), arguments[1], "pair", flat); }),
            "input 'pair': expected a tuple, got a Tensor");
  const auto short_tuple = c10::ivalue::Tuple::create({c10::IValue(at::ones({1}))});
  EXPECT_EQ(error_of<InvalidValue>([&] { flatten(short_tuple, arguments[1], "pair", flat); }),
            "input 'pair': expected a tuple of 2 items, got 1");
}

TEST(CallSpec, ReadsRegisteredClassesOfNamedFieldsAsDicts) {
  // A Hugging Face ModelOutput (context: its keys) and a torch register_dataclass class ([names, None names]).
  const std::string model_output = node("transformers.modeling_outputs.BaseModelOutput",
                                        R"("[\"last_hidden_state\", \"pooler_output\"]")", {kLeaf, kLeaf});
  const TreeSpec read = parse_tree_spec("[1, " + model_output + "]");
  EXPECT_EQ(read.kind, TreeSpec::Kind::kDict);
  EXPECT_EQ(read.keys, (std::vector<std::string>{"last_hidden_state", "pooler_output"}));
  const std::string dataclass = node("mymodule.Pair", R"("[[\"a\", \"b\"], [\"c\"]]")", {kLeaf, kLeaf});
  EXPECT_EQ(parse_tree_spec("[1, " + dataclass + "]").keys, (std::vector<std::string>{"a", "b"}));
  const std::string mismatched = node("mymodule.Pair", R"("[\"a\"]")", {kLeaf, kLeaf});
  EXPECT_NE(error_of<InvalidValue>([&] { parse_tree_spec("[1, " + mismatched + "]"); }).find("mymodule.Pair is in"),
            std::string::npos);
}

TEST(CallSpec, RefusesWhatItDoesNotRead) {
  EXPECT_EQ(error_of<InvalidValue>([] { parse_tree_spec("[1, " + node("mymodule.Point", "null", {}) + "]"); }),
            "the package's call spec: a mymodule.Point is in the inputs or outputs; this version reads tuples, "
            "lists, dicts, tensors and registered classes of named fields");
  EXPECT_EQ(error_of<InvalidValue>([] { parse_tree_spec("[1, " + node("builtins.dict", R"("[0]")", {kLeaf}) + "]"); }),
            "the package's call spec: expected a dict's keys as a list of strings, got [0]");
  const std::string kwargs =
      "[1, " +
      node("builtins.tuple", "\"null\"",
           {node("builtins.tuple", "\"null\"", {}), node("builtins.dict", R"("[\"x\"]")", {kLeaf})}) +
      "]";
  EXPECT_EQ(error_of<InvalidValue>([&] { positional_arguments(parse_tree_spec(kwargs)); }),
            "the package's call spec: keyword inputs ['x'] are recorded; expected positional ones");
  std::string deep = kLeaf;
  for (int i = 0; i < 100; ++i) deep = node("builtins.tuple", "\"null\"", {deep});
  EXPECT_NE(error_of<InvalidValue>([&] { parse_tree_spec("[1, " + deep + "]"); }).find("nested at most"),
            std::string::npos);
  EXPECT_NE(error_of<InvalidValue>([] { parse_tree_spec("{not json"); }).find("does not read"), std::string::npos);
}

}  // namespace
}  // namespace tsnative::detail
