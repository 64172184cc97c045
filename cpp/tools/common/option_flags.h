// Command-line flags made from an options struct declared once (its static describe(), see
// tsnative/engine_options.h): --name for each option ('_' as '-'), --no-name for a bool that is on by default,
// and the aliases its declaration gives. Also the tools' number checks, whose errors name the flag and the value
// given in one line (CLI11's own range checks print their bounds as 309-digit numbers).
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "tsnative/options.h"

namespace tsnative::tools {

// Integers >= `minimum`: "expected an integer >= 1, got 0".
inline CLI::Validator at_least(int64_t minimum) {
  return CLI::Validator(
      [minimum](std::string& text) -> std::string {
        try {
          size_t used = 0;
          const long long value = std::stoll(text, &used);
          if (used == text.size() && value >= minimum) return "";
        } catch (const std::exception&) {
        }
        return "expected an integer >= " + std::to_string(minimum) + ", got " + text;
      },
      ">=" + std::to_string(minimum));
}

// Numbers >= `minimum` (or > it, `above`): "expected a number > 0, got -1".
inline CLI::Validator number_from(double minimum, bool above) {
  std::ostringstream bound;
  bound << (above ? ">" : ">=") << " " << minimum;
  return CLI::Validator(
      [minimum, above, bound = bound.str()](std::string& text) -> std::string {
        try {
          size_t used = 0;
          const double value = std::stod(text, &used);
          if (used == text.size() && (above ? value > minimum : value >= minimum)) return "";
        } catch (const std::exception&) {
        }
        return "expected a number " + bound + ", got " + text;
      },
      bound.str());
}

// The check for a number option as declared: integers by at_least, others by number_from.
template <class T>
CLI::Validator number_check(const OptionInfo& info) {
  if constexpr (std::is_integral_v<T>) {
    // Cast only a bound an int64 can hold (the default bound, the lowest double, cannot be).
    if (info.minimum <= -9.2e18) return at_least(std::numeric_limits<int64_t>::min());
    return at_least(static_cast<int64_t>(info.minimum) + (info.above ? 1 : 0));
  } else {
    return number_from(info.minimum, info.above);
  }
}

// "1x3x224x224" -> {1, 3, 224, 224}; throws CLI::ValidationError naming `flag`.
inline std::vector<int64_t> parse_shape_text(const std::string& flag, const std::string& text) {
  std::vector<int64_t> shape;
  std::stringstream parts(text);
  std::string part;
  while (std::getline(parts, part, 'x')) {
    try {
      size_t used = 0;
      const long long size = std::stoll(part, &used);
      if (used != part.size() || size < 0) throw std::invalid_argument(part);
      shape.push_back(size);
    } catch (const std::exception&) {
      throw CLI::ValidationError(flag, "expected a shape like 1x3x224x224, got " + text);
    }
  }
  if (shape.empty()) throw CLI::ValidationError(flag, "expected a shape like 1x3x224x224, got " + text);
  return shape;
}

namespace detail {

inline std::string flag_of(const char* name) {
  std::string flag = std::string("--") + name;
  for (char& c : flag) c = c == '_' ? '-' : c;
  return flag;
}

// The flag and its declared aliases, as CLI11 takes several names: "--onednn-fusion,--fusion".
inline std::string with_aliases(const std::string& flag, const char* aliases) {
  return aliases[0] == '\0' ? flag : flag + "," + aliases;
}

template <class T>
void add_flag(CLI::App& app, const OptionInfo& info, T& field) {
  const std::string flag = flag_of(info.name);
  if constexpr (std::is_same_v<T, bool>) {
    if (field) {  // on by default: the flag turns it off
      app.add_flag_callback(
          with_aliases("--no-" + flag.substr(2), info.aliases), [&field] { field = false; },
          std::string("do not: ") + info.help);
    } else {
      app.add_flag(with_aliases(flag, info.aliases), field, info.help);
    }
  } else if constexpr (std::is_same_v<T, std::string>) {
    auto* option = app.add_option(with_aliases(flag, info.aliases), field, info.help)->capture_default_str();
    if (info.choices[0] != '\0') {
      std::vector<std::string> choices;
      std::stringstream parts(info.choices);
      for (std::string choice; std::getline(parts, choice, '|');) choices.push_back(choice);
      option->check(CLI::IsMember(choices));
    }
  } else if constexpr (std::is_arithmetic_v<T>) {
    auto* option = app.add_option(with_aliases(flag, info.aliases), field, info.help);
    if (info.required) {
      option->required();
    } else {
      option->capture_default_str();
    }
    if (info.minimum > std::numeric_limits<double>::lowest()) option->check(number_check<T>(info));
  } else if constexpr (std::is_same_v<T, std::optional<int>>) {
    app.add_option_function<int>(
           with_aliases(flag, info.aliases), [&field](const int& value) { field = value; }, info.help)
        ->check(number_check<int>(info));
  } else if constexpr (std::is_same_v<T, std::optional<std::string>>) {
    app.add_option_function<std::string>(
        with_aliases(flag, info.aliases), [&field](const std::string& value) { field = value; }, info.help);
  } else if constexpr (std::is_same_v<T, std::optional<uint64_t>>) {
    app.add_option_function<uint64_t>(
           with_aliases(flag, info.aliases), [&field](const uint64_t& value) { field = value; }, info.help)
        ->check(number_check<uint64_t>(info));
  } else if constexpr (std::is_same_v<T, CallShapes>) {
    // One value per call, its tensors' shapes comma-separated: --warmup-shapes 1x3x224x224 --warmup-shapes 8x3x224x224
    app.add_option_function<std::vector<std::string>>(
           with_aliases(flag, info.aliases),
           [&field, flag](const std::vector<std::string>& calls) {
             for (const auto& call : calls) {
               std::vector<std::vector<int64_t>> shapes;
               std::stringstream parts(call);
               std::string part;
               while (std::getline(parts, part, ',')) shapes.push_back(parse_shape_text(flag, part));
               field.push_back(std::move(shapes));
             }
           },
           std::string(info.help) + " (one value per call: 1x3x224x224, or shapes comma-separated)")
        ->allow_extra_args(false);  // one value per occurrence, so the flag never swallows the model path
  } else {
    static_assert(sizeof(T) == 0, "add_flag: no command-line form for this option type");
  }
}

}  // namespace detail

// Registers a flag for every option of `options` (an object that outlives parsing).
template <class Options>
void add_option_flags(CLI::App& app, Options& options) {
  Options::describe([&](const OptionInfo& info, auto member) { detail::add_flag(app, info, options.*member); });
}

}  // namespace tsnative::tools
