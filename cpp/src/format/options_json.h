// An options struct declared once (its static describe(), see tsnative/engine_options.h) as a JSON object: the
// settings a tool prints beside its results, with the names Python and the command line use.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>

#include "tsnative/options.h"

namespace tsnative::detail {

template <class T>
nlohmann::json option_json(const T& value) {
  return nlohmann::json(value);
}

template <class T>
nlohmann::json option_json(const std::optional<T>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json();
}

template <class Options>
nlohmann::json options_json(const Options& options) {
  nlohmann::json out = nlohmann::json::object();
  Options::describe([&](const OptionInfo& info, auto member) { out[info.name] = option_json(options.*member); });
  return out;
}

}  // namespace tsnative::detail
