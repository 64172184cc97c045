#include "tsnative/errors.h"

namespace tsnative {

FileNotFound::FileNotFound(std::string path) : Error("No such file: '" + path + "'"), path_(std::move(path)) {}

ModelLoadError::ModelLoadError(std::string path, std::string reason)
    : Error("Cannot load '" + path + "' as a model: " + reason), path_(std::move(path)), reason_(std::move(reason)) {}

namespace {

std::string located(const std::string& path, int line, const std::string& reason) {
  std::string text = path;
  if (line > 0) text.append(":").append(std::to_string(line));
  return text.append(": ").append(reason);
}

}  // namespace

DataError::DataError(std::string path, int line, std::string reason)
    : Error(located(path, line, reason)), path_(std::move(path)), line_(line), reason_(std::move(reason)) {}

}  // namespace tsnative
