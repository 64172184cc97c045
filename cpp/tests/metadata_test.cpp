// The metadata format unit (tsnative/metadata.h), built without LibTorch (see CMakeLists.txt): the header and its
// implementation stay light enough for code that does not run models.
#include "tsnative/metadata.h"

#include <gtest/gtest.h>

#include <string>

#include "tsnative/errors.h"

namespace tsnative {
namespace {

const std::string kInputs =
    R"("inputs": [{"name": "x", "type": "Tensor", "dtype": "float32", "shape": [-1, 3, 224, 224]},
                  {"name": "scale", "type": "float"}])";

std::string with_format(const std::string& format) { return "{\"format\": \"" + format + "\", " + kInputs + "}"; }

// The InvalidValue message `read` throws, "" when it does not throw.
template <typename Read>
std::string error_of(Read read) {
  try {
    read();
  } catch (const InvalidValue& e) {
    return e.what();
  }
  return "";
}

TEST(MetadataFormat, VersionAndFormatStringComeFromOnePlace) {
  EXPECT_EQ(kMetadataVersion, 1);
  EXPECT_EQ(metadata_format(), "tsnative.metadata/1");
  EXPECT_EQ(metadata_format(3), "tsnative.metadata/3");
}

TEST(MetadataFormat, ReadsRecordedInputs) {
  const auto inputs = recorded_inputs(with_format("tsnative.metadata/1"));
  ASSERT_EQ(inputs.size(), 2u);
  EXPECT_EQ(inputs[0].name, "x");
  EXPECT_EQ(inputs[0].dtype, "float32");
  EXPECT_EQ(inputs[0].shape, (std::vector<int64_t>{-1, 3, 224, 224}));
  EXPECT_EQ(inputs[1].type, "float");
  EXPECT_TRUE(inputs[1].shape.empty());
  EXPECT_TRUE(recorded_inputs("").empty());
  EXPECT_EQ(checked_metadata(""), "");  // a file without metadata
}

TEST(MetadataFormat, RefusesANewerVersionClearly) {
  const std::string newer = with_format("tsnative.metadata/2");
  const std::string message =
      "metadata: written by a newer tsnative (tsnative.metadata/2); this version reads up to tsnative.metadata/1";
  EXPECT_EQ(error_of([&] { checked_metadata(newer); }), message);
  EXPECT_EQ(error_of([&] { recorded_inputs(newer); }), message);
  EXPECT_EQ(error_of([&] { recorded_inputs(with_format("tsnative.metadata/123456789012")); }),
            "metadata: written by a newer tsnative (tsnative.metadata/123456789012); this version reads up to "
            "tsnative.metadata/1");
}

TEST(MetadataFormat, RefusesAMissingOrMalformedFormat) {
  EXPECT_EQ(error_of([&] { recorded_inputs("{" + kInputs + "}"); }),
            R"(metadata: expected "format": "tsnative.metadata/1", got none)");
  EXPECT_EQ(error_of([&] { recorded_inputs(with_format("tsnative.metadata/0")); }),
            R"(metadata: expected "format": "tsnative.metadata/1", got "tsnative.metadata/0")");
  EXPECT_EQ(error_of([&] { recorded_inputs(with_format("onnx/1")); }),
            R"(metadata: expected "format": "tsnative.metadata/1", got "onnx/1")");
  EXPECT_EQ(error_of([&] { recorded_inputs(R"({"format": 1, )" + kInputs + "}"); }),
            R"(metadata: expected "format": "tsnative.metadata/1", got 1)");
}

TEST(MetadataFormat, ChecksTheEntriesReadersRelyOn) {
  const auto error = [](const std::string& rest) {
    return error_of([&] { recorded_inputs(R"({"format": "tsnative.metadata/1")" + rest + "}"); });
  };
  EXPECT_EQ(error(""), R"(metadata: expected "inputs": a list of the recorded inputs, got none)");
  EXPECT_EQ(error(R"(, "inputs": {})"), R"(metadata: expected "inputs": a list of the recorded inputs, got an object)");
  EXPECT_EQ(error(R"(, "inputs": [3])"), "metadata: inputs[0]: expected an object, got 3");
  EXPECT_EQ(error(R"(, "inputs": [{"type": "int"}])"), R"(metadata: inputs[0]: expected "name": a string, got none)");
  EXPECT_EQ(error(R"(, "inputs": [{"name": "x"}])"), R"(metadata: inputs[0]: expected "type": a string, got none)");
  EXPECT_EQ(error(R"(, "inputs": [{"name": "x", "type": "int"}, {"name": "y", "type": "Tensor", "shape": [2]}])"),
            R"(metadata: inputs[1]: expected "dtype": a string, got none)");
  EXPECT_EQ(error(R"(, "inputs": [{"name": "x", "type": "Tensor", "dtype": "float32"}])"),
            R"(metadata: inputs[0]: expected "shape": a list of sizes, got none)");
  EXPECT_EQ(error(R"(, "inputs": [{"name": "x", "type": "Tensor", "dtype": "float32", "shape": [2, 1.5]}])"),
            R"(metadata: inputs[0]: expected "shape": sizes >= 0, or -1 for any size, got 1.5)");
  EXPECT_EQ(error_of([] { recorded_inputs("[1, 2]"); }), "metadata: expected a JSON object, got a list");
  EXPECT_TRUE(error_of([] { recorded_inputs("{not json"); }).starts_with("metadata: expected strict JSON text"));
}

TEST(MetadataFormat, ReadsNestedInputsWithTheirPaths) {
  const auto inputs = recorded_inputs(R"({"format": "tsnative.metadata/1", "inputs": [
      {"name": "pair", "type": "tuple", "items": [{"type": "Tensor", "dtype": "float32", "shape": [-1, 4]},
                                                  {"type": "int"}]},
      {"name": "features", "type": "dict", "items": {"ids": {"type": "Tensor", "dtype": "int64", "shape": [2]},
                                                     "rest": {"type": "list", "items": []}}}]})");
  ASSERT_EQ(inputs.size(), 2u);
  ASSERT_EQ(inputs[0].items.size(), 2u);
  EXPECT_EQ(inputs[0].items[0].name, "pair[0]");
  EXPECT_EQ(inputs[0].items[0].shape, (std::vector<int64_t>{-1, 4}));
  EXPECT_EQ(inputs[0].items[1].type, "int");
  EXPECT_EQ(inputs[1].keys, (std::vector<std::string>{"ids", "rest"}));  // the order recorded
  EXPECT_EQ(inputs[1].items[0].name, R"(features["ids"])");
  EXPECT_EQ(inputs[1].items[0].dtype, "int64");
  EXPECT_EQ(inputs[1].items[1].type, "list");
}

TEST(MetadataFormat, RefusesMalformedOrTooDeeplyNestedInputs) {
  const auto error = [](const std::string& input) {
    return error_of([&] { recorded_inputs(R"({"format": "tsnative.metadata/1", "inputs": [)" + input + "]}"); });
  };
  EXPECT_EQ(error(R"({"name": "p", "type": "tuple"})"),
            R"(metadata: inputs[0]: expected "items": a list of the items, got none)");
  EXPECT_EQ(error(R"({"name": "d", "type": "dict", "items": []})"),
            R"(metadata: inputs[0]: expected "items": an object of the items, got a list)");
  EXPECT_EQ(error(R"({"name": "p", "type": "tuple", "items": [{"type": "Tensor", "dtype": "float32"}]})"),
            R"(metadata: inputs[0].items[0]: expected "shape": a list of sizes, got none)");
  std::string deep = R"({"type": "Tensor", "dtype": "float32", "shape": []})";
  for (int depth = 0; depth < kMaxInputDepth; ++depth) deep = R"({"type": "tuple", "items": [)" + deep + "]}";
  deep.insert(1, R"("name": "deep", )");
  EXPECT_EQ(error(deep).substr(0, 9), "metadata:");
  EXPECT_NE(error(deep).find("expected inputs nested at most 16 deep"), std::string::npos) << error(deep);
}

TEST(MetadataFormat, ReadsLegacyBareNanAsNull) {
  // Before tsnative wrote strict JSON, a check that did not run was recorded as a bare NaN.
  const std::string legacy = R"({"format": "tsnative.metadata/1", )" + kInputs +
                             R"(, "verification": {"checks": [{"max_abs_diff": NaN}, {"max_abs_diff": -Infinity}]}})";
  const std::string text = checked_metadata(legacy);
  EXPECT_EQ(text.find("NaN"), std::string::npos);
  EXPECT_EQ(text.find("Infinity"), std::string::npos);
  EXPECT_NE(text.find(R"("max_abs_diff": null)"), std::string::npos);
  EXPECT_EQ(recorded_inputs(legacy).size(), 2u);
  EXPECT_EQ(checked_metadata(text), text);  // canonical: reading it again changes nothing
}

TEST(MetadataFormat, WritesCanonicalTextWithTheFormatStampedFirst) {
  const std::string text = metadata_text(R"({"model": "Net", )" + kInputs + R"(, "batch": "dynamic"})");
  EXPECT_TRUE(text.starts_with("{\n \"format\": \"tsnative.metadata/1\",\n \"model\": \"Net\",\n \"inputs\": ["))
      << text;
  EXPECT_LT(text.find("\"inputs\""), text.find("\"batch\""));  // the order given, not sorted
  EXPECT_EQ(checked_metadata(text), text);                     // what is written reads back as written
  EXPECT_EQ(recorded_inputs(text).size(), 2u);
  EXPECT_EQ(metadata_text(with_format("tsnative.metadata/1")), metadata_text("{" + kInputs + "}"));
}

TEST(MetadataFormat, WriterRefusesNanOtherFormatsAndMissingInputs) {
  const std::string nan = error_of([] { metadata_text(R"({"inputs": [], "loss": NaN})"); });
  EXPECT_TRUE(nan.starts_with("metadata: expected strict JSON text (no NaN or Infinity), got text that does not parse"))
      << nan;
  EXPECT_EQ(error_of([] { metadata_text(R"({"format": "tsnative.metadata/2", "inputs": []})"); }),
            R"(metadata: expected "format": "tsnative.metadata/1" to write (the only one this version writes), )"
            R"(got "tsnative.metadata/2")");
  EXPECT_EQ(error_of([] { metadata_text(R"({"model": "Net"})"); }),
            R"(metadata: expected "inputs": a list of the recorded inputs, got none)");
  EXPECT_EQ(error_of([] { metadata_text("[]"); }), "metadata: expected a JSON object to write, got a list");
}

}  // namespace
}  // namespace tsnative
