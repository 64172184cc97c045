#include "tsnative/errors.h"

namespace tsnative {

FileNotFound::FileNotFound(std::string path) : Error("No such file: '" + path + "'"), path_(std::move(path)) {}

ModelLoadError::ModelLoadError(std::string path, std::string reason)
    : Error("Cannot load '" + path + "' as a TorchScript model: " + reason),
      path_(std::move(path)),
      reason_(std::move(reason)) {}

}  // namespace tsnative
