#include "tsnative/metadata.h"

#include <nlohmann/json.hpp>

#include "tsnative/errors.h"

namespace tsnative {

std::vector<InputSpec> recorded_inputs(const std::string& metadata_json) {
  if (metadata_json.empty()) return {};
  try {
    const auto metadata = nlohmann::json::parse(metadata_json);
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
