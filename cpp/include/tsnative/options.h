// OptionInfo: what an options struct's static describe() says about each option (see engine_options.h). Options
// structs declare their fields once; the Python binding (cpp/bindings/option_binding.h), the tools' flags
// (cpp/tools/common/option_flags.h) and the JSON settings (cpp/src/format/options_json.h) are made from describe().
// Light on purpose: no torch headers.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

namespace tsnative {

// Input shapes of calls: one entry per call, one shape per tensor argument ({{1, 3, 224, 224}} for one tensor).
using CallShapes = std::vector<std::vector<std::vector<int64_t>>>;

// What describe() says about one option besides its field.
struct OptionInfo {
  const char* name;  // the Python keyword and JSON key; on the command line --name with '-' for '_'
  const char* help;  // one line, for docstrings and --help
  // Other command-line spellings, comma-separated (CLI11 style), e.g. "--fusion"; a bool that is true by default
  // is the flag --no-name (its aliases given here negated too, e.g. "--no-input-check").
  const char* aliases = "";
  // The values a string option accepts, '|'-separated ("" for any): the command line refuses others as a usage
  // error; the engine checks them again, for every client.
  const char* choices = "";
  // Numbers: the smallest value accepted (`above`: values must be greater), checked as a usage error by the
  // command line; the library checks them again, for every client.
  double minimum = std::numeric_limits<double>::lowest();
  bool above = false;
  bool required = false;  // no usable default: the command line requires it
  // The backend whose files the option applies to ("torchscript", "aoti"; "" for every file): the engine refuses
  // a value other than the default for a file of another backend, in one place (backends/backend_registry.cpp).
  const char* backend = "";
};

}  // namespace tsnative
