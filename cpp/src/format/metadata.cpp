#include "tsnative/metadata.h"

#include <nlohmann/json.hpp>

#include <regex>

#include "format/json_depth.h"
#include "tsnative/errors.h"

namespace tsnative {
namespace {

// Ordered: entries keep the order they were written in (Python's dict order), so a rewrite changes only what it
// changes.
using Json = nlohmann::ordered_json;

[[noreturn]] void refuse(const std::string& what) { throw InvalidValue("metadata: " + what); }

// A value as an error names it: scalars as JSON text (cut short), containers by kind; "none" when absent.
std::string found(const Json* value) {
  if (value == nullptr) return "none";
  if (value->is_object()) return "an object";
  if (value->is_array()) return "a list";
  std::string text = value->dump();
  return text.size() <= 60 ? text : text.substr(0, 57) + "...";
}

// Files exported before tsnative wrote strict JSON may hold a bare NaN / Infinity (a check that did not run).
std::string without_bare_nan(const std::string& text) {
  if (text.find("NaN") == std::string::npos && text.find("Infinity") == std::string::npos) return text;
  static const std::regex bare_number(R"((:\s*)-?(NaN|Infinity)\b)");
  return std::regex_replace(text, bare_number, "$1null");
}

Json parse(const std::string& text, bool legacy_nan) {
  try {
    return detail::parse_bounded<Json>(legacy_nan ? without_bare_nan(text) : text, [] {
      refuse("expected JSON nested at most " + std::to_string(detail::kMaxJsonDepth) + " levels deep, got deeper");
    });
  } catch (const Json::exception& e) {
    refuse(std::string("expected strict JSON text (no NaN or Infinity), got text that does not parse (") + e.what() +
           ")");
  }
}

bool is_string(const Json& value) { return value.is_string(); }
bool is_list(const Json& value) { return value.is_array(); }

// object[key], of the kind `is_kind` accepts; `where` ("inputs[0]: ") and `kind` ("a string") word the error.
const Json& entry(const Json& object, const std::string& where, const char* key, const char* kind,
                  bool (*is_kind)(const Json&)) {
  const auto at = object.find(key);
  const Json* value = at == object.end() ? nullptr : &*at;
  if (value == nullptr || !is_kind(*value)) {
    refuse(where + "expected \"" + key + "\": " + kind + ", got " + found(value));
  }
  return *value;
}

// The versions this build reads, as an error names them. (Appended, not `"\"" + text`: GCC 12 warns wrongly.)
std::string readable_formats() {
  std::string text = "\"";
  if (kMetadataVersion > 1) text.append(metadata_format(1)).append("\" to \"");
  return text.append(metadata_format()).append("\"");
}

// Refuses metadata without a "format" of a version this build reads.
void check_format(const Json& metadata) {
  const auto at = metadata.find("format");
  const Json* format = at == metadata.end() ? nullptr : &*at;
  static const std::regex pattern(R"(tsnative\.metadata/([1-9][0-9]*))");
  std::smatch match;
  if (format == nullptr || !format->is_string() ||
      !std::regex_match(format->get_ref<const std::string&>(), match, pattern)) {
    refuse("expected \"format\": " + readable_formats() + ", got " + found(format));
  }
  const std::string digits = match[1];
  if (digits.size() > 9 || std::stoi(digits) > kMetadataVersion) {
    refuse("written by a newer tsnative (" + format->get<std::string>() + "); this version reads up to " +
           metadata_format());
  }
}

bool is_object(const Json& value) { return value.is_object(); }

// One recorded input (or an item inside one), checked and read. `where` ("inputs[0]: ", "inputs[0].items[1]: ")
// words the errors; `path` names the item as errors of calls print it ("pair[1]").
InputSpec read_input(const Json& input, const std::string& where, std::string path, int depth) {
  if (!input.is_object()) refuse(where + "expected an object, got " + found(&input));
  if (depth > kMaxInputDepth) {
    refuse(where + "expected inputs nested at most " + std::to_string(kMaxInputDepth) + " deep, got deeper");
  }
  InputSpec spec{
      std::move(path), entry(input, where, "type", "a string", is_string).get<std::string>(), "", {}, {}, {}};
  if (spec.type == "Tensor") {
    spec.dtype = entry(input, where, "dtype", "a string", is_string).get<std::string>();
    const Json& shape = entry(input, where, "shape", "a list of sizes", is_list);
    for (const Json& size : shape) {
      if (!size.is_number_integer() || size.get<int64_t>() < -1) {
        refuse(where + "expected \"shape\": sizes >= 0, or -1 for any size, got " + found(&size));
      }
      spec.shape.push_back(size.get<int64_t>());
    }
  } else if (spec.type == "tuple" || spec.type == "list") {
    const Json& items = entry(input, where, "items", "a list of the items", is_list);
    for (size_t i = 0; i < items.size(); ++i) {
      const std::string index = "[" + std::to_string(i) + "]";
      spec.items.push_back(read_input(items[i], where.substr(0, where.size() - 2) + ".items" + index + ": ",
                                      spec.name + index, depth + 1));
    }
  } else if (spec.type == "dict") {
    const Json& items = entry(input, where, "items", "an object of the items", is_object);
    for (auto it = items.begin(); it != items.end(); ++it) {
      spec.keys.push_back(it.key());
      spec.items.push_back(read_input(it.value(), where.substr(0, where.size() - 2) + ".items[\"" + it.key() + "\"]: ",
                                      spec.name + "[\"" + it.key() + "\"]", depth + 1));
    }
  }
  return spec;
}

// "inputs": a list of recorded inputs, each with a "name" (read_input checks the rest).
std::vector<InputSpec> read_inputs(const Json& metadata) {
  const Json& inputs = entry(metadata, "", "inputs", "a list of the recorded inputs", is_list);
  std::vector<InputSpec> specs;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::string where = "inputs[" + std::to_string(i) + "]: ";
    if (!inputs[i].is_object()) refuse(where + "expected an object, got " + found(&inputs[i]));
    specs.push_back(
        read_input(inputs[i], where, entry(inputs[i], where, "name", "a string", is_string).get<std::string>(), 1));
  }
  return specs;
}

// Metadata as read from a file: parsed (legacy NaN as null) and checked.
Json checked(const std::string& metadata_json) {
  Json metadata = parse(metadata_json, /*legacy_nan=*/true);
  if (!metadata.is_object()) refuse("expected a JSON object, got " + found(&metadata));
  check_format(metadata);
  // Metadata of an earlier version would be brought to this version's form here; 1 is the first.
  read_inputs(metadata);
  return metadata;
}

}  // namespace

std::string metadata_format(int version) { return "tsnative.metadata/" + std::to_string(version); }

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    text += (i ? ", " : "") + (shape[i] < 0 ? std::string("N") : std::to_string(shape[i]));
  }
  return text + "]";
}

std::string checked_metadata(const std::string& metadata_json) {
  if (metadata_json.empty()) return "";
  return checked(metadata_json).dump(1);
}

std::vector<InputSpec> recorded_inputs(const std::string& metadata_json) {
  if (metadata_json.empty()) return {};
  return read_inputs(checked(metadata_json));
}

std::string recorded_output_type(const std::string& metadata_json) {
  if (metadata_json.empty()) return "";
  const Json metadata = checked(metadata_json);
  const auto outputs = metadata.find("outputs");
  if (outputs == metadata.end() || !outputs->is_object()) return "";
  const auto type = outputs->find("type");
  return type != outputs->end() && type->is_string() ? type->get<std::string>() : "";
}

std::vector<std::string> recorded_cpu_features(const std::string& metadata_json) {
  if (metadata_json.empty()) return {};
  const Json metadata = checked(metadata_json);
  const auto features = metadata.find("cpu_features");
  if (features == metadata.end()) return {};
  if (!features->is_array()) refuse("expected \"cpu_features\": a list of names, got " + found(&*features));
  std::vector<std::string> names;
  for (const Json& name : *features) {
    if (!name.is_string()) refuse("expected \"cpu_features\": a list of names, got " + found(&name));
    names.push_back(name.get<std::string>());
  }
  return names;
}

std::string metadata_text(const std::string& metadata_json) {
  Json given = parse(metadata_json, /*legacy_nan=*/false);
  if (!given.is_object()) refuse("expected a JSON object to write, got " + found(&given));
  const auto format = given.find("format");
  if (format != given.end() && *format != metadata_format()) {
    refuse("expected \"format\": \"" + metadata_format() + "\" to write (the only one this version writes), got " +
           found(&*format));
  }
  // "format" first, where readers (and people) look for it; the rest in the order given.
  Json metadata = Json::object({{"format", metadata_format()}});
  for (auto it = given.begin(); it != given.end(); ++it) {
    if (it.key() != "format") metadata[it.key()] = std::move(it.value());
  }
  read_inputs(metadata);
  return metadata.dump(1);
}

}  // namespace tsnative
