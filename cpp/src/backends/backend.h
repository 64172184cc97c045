// The interface between the Engine and what runs a model file. The Engine owns what every model needs (binding and
// checking a call, moving it to the device and precision, finishing its outputs, the load report); a backend owns
// how a format is loaded, optimised and run. A new format (e.g. AOTInductor .pt2) is a new Backend and one line in
// the registry (backends/backend_registry.h), not a change to the Engine.
#pragma once

#include <ATen/core/function_schema.h>
#include <ATen/core/ivalue.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "file/model_bytes.h"
#include "tsnative/engine_options.h"
#include "tsnative/load_report.h"

namespace tsnative::detail {

class Backend {
 public:
  virtual ~Backend() = default;

  // The method run() calls, as a TorchScript schema (first argument self): calls are bound and checked against it.
  virtual const c10::FunctionSchema& schema() const = 0;
  virtual std::vector<std::string> method_names() const = 0;
  // The file's tsnative.json ("" when it has none).
  virtual const std::string& metadata_json() const = 0;
  // Whether the backend's code assumes the recorded inputs (a .pt2 package's compiled code: its structure, list
  // lengths included, dtypes and shapes): the engine then checks the tensors inside lists too (a TorchScript list
  // may have any length; its items are not checked), and its errors do not offer to turn the check off.
  virtual bool assumes_recorded_inputs() const { return false; }

  // Called once after load with the declared calls (EngineOptions::warmup_shapes), complete and placed as
  // execute() receives them: warm-up, executors per shape, fusion trials, CUDA graphs. Records its steps in
  // `report`.
  virtual void prepare(const std::vector<std::vector<c10::IValue>>& calls, LoadReport& report) = 0;

  // Runs one call: complete arguments, on the engine's device and in its precision. Returns outputs the caller
  // owns (never buffers a later call reuses), on the device. Thread-safe.
  virtual c10::IValue execute(std::vector<c10::IValue> inputs) const = 0;

  // Brings the facts that change while running (fusion trials in "on" mode, fusion switched off) into `report`.
  virtual void refresh(LoadReport& report) const { (void)report; }
};

// What a backend is loaded with: the options, resolved, and the file, opened once.
struct BackendRequest {
  std::string path;
  const EngineOptions& options;
  c10::Device device;
  std::optional<at::ScalarType> precision;  // nullopt: float32
  // The file at `path` as open_backend() opened it (within max_archive_bytes, and hashed when pinned): the bytes
  // the backend loads, never the path again.
  std::shared_ptr<ModelBytes> bytes;
};

// Opens `request.path` once (FileNotFound, the memory budget, the SHA-256 pin), chooses the backend for its format
// on those bytes and loads them with it; fills `report`'s backend, frozen, parameter_count, the load steps and
// timings. Throws FileNotFound, ModelLoadError or InvalidValue.
std::unique_ptr<Backend> open_backend(const BackendRequest& request, LoadReport& report);

}  // namespace tsnative::detail
