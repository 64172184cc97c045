#include "tsnative/metadata.h"

#include <nlohmann/json.hpp>

#include <regex>

#include "tsnative/errors.h"

namespace tsnative {

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
