#include "format/dtypes.h"

#include <utility>
#include <vector>

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

}  // namespace tsnative
