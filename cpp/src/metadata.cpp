#include "tsnative/metadata.h"

#include <nlohmann/json.hpp>

#include <regex>

#include "tsnative/errors.h"

namespace tsnative {
namespace {

const std::vector<std::pair<std::string, c10::ScalarType>>& dtype_names() {
  static const std::vector<std::pair<std::string, c10::ScalarType>> names{
      {"float32", c10::kFloat}, {"float64", c10::kDouble}, {"float16", c10::kHalf}, {"bfloat16", c10::kBFloat16},
      {"int64", c10::kLong},    {"int32", c10::kInt},      {"int16", c10::kShort},  {"int8", c10::kChar},
      {"uint8", c10::kByte},    {"bool", c10::kBool}};
  return names;
}

}  // namespace

std::string dtype_name(c10::ScalarType type) {
  for (const auto& [name, known] : dtype_names()) {
    if (known == type) return name;
  }
  return c10::toString(type);
}

std::optional<c10::ScalarType> dtype_from_name(const std::string& name) {
  for (const auto& [known_name, type] : dtype_names()) {
    if (known_name == name) return type;
  }
  return std::nullopt;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    text += (i ? ", " : "") + (shape[i] < 0 ? std::string("N") : std::to_string(shape[i]));
  }
  return text + "]";
}

std::string strict_metadata_json(const std::string& metadata_json) {
  if (metadata_json.find("NaN") == std::string::npos && metadata_json.find("Infinity") == std::string::npos) {
    return metadata_json;
  }
  static const std::regex bare_number(R"((:\s*)-?(NaN|Infinity)\b)");
  return std::regex_replace(metadata_json, bare_number, "$1null");
}

std::vector<InputSpec> recorded_inputs(const std::string& metadata_json) {
  if (metadata_json.empty()) return {};
  try {
    const auto metadata = nlohmann::json::parse(strict_metadata_json(metadata_json));
    std::vector<InputSpec> inputs;
    for (const auto& input : metadata.at("inputs")) {
      InputSpec spec{input.at("name").get<std::string>(), input.at("type").get<std::string>(), "", {}};
      if (spec.type == "Tensor") {
        spec.dtype = input.at("dtype").get<std::string>();
        spec.shape = input.at("shape").get<std::vector<int64_t>>();
      }
      inputs.push_back(std::move(spec));
    }
    return inputs;
  } catch (const nlohmann::json::exception& e) {
    throw InvalidValue(std::string("metadata: not the JSON tsnative.export writes (") + e.what() + ")");
  }
}

}  // namespace tsnative
