// The errors tsnative raises. what() is always readable text for a person: never a C++ backtrace.
// The Python binding maps each class to one Python exception (see cpp/bindings/bind_errors.cpp).
#pragma once

#include <stdexcept>
#include <string>

namespace tsnative {

// Base of every tsnative error.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The model file does not exist. Python: FileNotFoundError.
class FileNotFound : public Error {
 public:
  explicit FileNotFound(std::string path);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The file exists but is not a loadable TorchScript program. Python: tsnative.ModelLoadError.
class ModelLoadError : public Error {
 public:
  ModelLoadError(std::string path, std::string reason);
  const std::string& path() const { return path_; }
  const std::string& reason() const { return reason_; }

 private:
  std::string path_;
  std::string reason_;
};

// A value of the wrong kind: wrong argument count or type. Python: TypeError.
class InvalidType : public Error {
 public:
  using Error::Error;
};

// A value of the right kind but not acceptable: a malformed device string, an unknown method. Python: ValueError.
class InvalidValue : public Error {
 public:
  using Error::Error;
};

// The requested device cannot be used here (no CUDA, index out of range). Python: tsnative.DeviceUnavailableError.
class DeviceUnavailable : public Error {
 public:
  using Error::Error;
};

// Training or test data that cannot be used: a malformed map-file line, a bad class index, a missing or
// undecodable image. what() is "path:line: reason" (line 0: "path: reason"). Python: tsnative.DataError.
class DataError : public Error {
 public:
  DataError(std::string path, int line, std::string reason);
  const std::string& path() const { return path_; }
  int line() const { return line_; }
  const std::string& reason() const { return reason_; }

 private:
  std::string path_;
  int line_ = 0;
  std::string reason_;
};

// The model itself raised while running. what() is one line saying what failed; detail() keeps LibTorch's whole
// text (TorchScript traceback, graph dumps) for whoever needs it. Python: tsnative.InferenceError (.detail).
class InferenceError : public Error {
 public:
  explicit InferenceError(const std::string& message, std::string detail = "")
      : Error(message), detail_(std::move(detail)) {}
  const std::string& detail() const { return detail_; }

 private:
  std::string detail_;
};

// One line for a person from any exception: a tsnative error's text, or what failed in LibTorch's message without
// its C++ backtrace (for tools that print errors: ts-infer, ts-train).
std::string error_line(const std::exception& error);

}  // namespace tsnative
