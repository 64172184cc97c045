// tsnative::Engine: one model file, loaded once, run many times on CPU or CUDA. A call goes through a fixed
// pipeline: bind and check the arguments, place them on the device (and precision), execute them on the backend
// that loaded the file (TorchScript), finish the outputs (float32, to the host). Options: engine_options.h.
#pragma once

#include <ATen/core/ivalue.h>
#include <c10/core/Device.h>

#include <memory>
#include <string>
#include <vector>

#include "tsnative/engine_options.h"
#include "tsnative/load_report.h"
#include "tsnative/metadata.h"
#include "tsnative/signature.h"

namespace tsnative {

class Engine {
 public:
  // Loads `path` onto the device. Throws FileNotFound, ModelLoadError, InvalidValue (an option out of its range,
  // e.g. a bad device string or method name) or DeviceUnavailable.
  explicit Engine(const std::string& path, EngineOptions options = {});
  ~Engine();
  // Not movable: a moved-from Engine would have no model to run (hold it in a std::unique_ptr to move it).
  Engine(Engine&&) = delete;
  Engine& operator=(Engine&&) = delete;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Runs the method under NoGradGuard on positional `inputs` (without self): outputs are ordinary tensors without
  // autograd history, whatever the device and optimisations, which the caller may change in place;
  // trailing arguments with defaults may be left out. With CUDA graphs, a call whose tensors match a captured
  // shape replays its graph. Tensors anywhere in the inputs are moved to the engine's device.
  // Throws InvalidType for a wrong argument count or type, InferenceError when the model raises.
  // Thread-safe: several threads may call run() on one Engine at once. With dynamic batching
  // (EngineOptions::max_batch), a checked call may wait for others and run in one batch with them; it returns its
  // own rows (docs/ARCHITECTURE.md, section 11).
  c10::IValue run(std::vector<c10::IValue> inputs) const;

  // Releases the model (its weights, executors, CUDA graphs) now rather than at destruction; waits for calls in
  // progress, and runs the calls waiting for a batch first. Later calls to run() throw InvalidValue; the
  // descriptions below stay readable.
  void close();
  bool closed() const;

  const MethodSignature& signature() const;
  const c10::FunctionSchema& schema() const;  // the raw TorchScript schema; its first argument is self
  std::vector<std::string> method_names() const;
  c10::Device device() const;
  const std::string& path() const;
  const EngineOptions& options() const;
  double load_seconds() const;  // wall time of the constructor (load_report().timings has its phases)
  // Waits for the work queued on the engine's device (CUDA kernels run asynchronously); nothing on the CPU.
  void synchronize() const;

  // The export metadata tsnative.export stores in the file (JSON text, see kMetadataFile); "" when absent.
  const std::string& metadata_json() const;
  // Elements in the module's parameters as loaded (0 for a file frozen at export, whose weights are constants).
  int64_t parameter_count() const;
  // What the load did, as facts: each optimisation step applied or skipped and why, fusion's trials, warnings,
  // the phases' timings. A snapshot: in "on" mode new call shapes are tried for fusion as they come.
  LoadReport load_report() const;
  // The same for people, one line per step: e.g. {"freeze", "executor_per_shape x2", "warmup x2",
  // "onednn_fusion x1 of 2 shapes"}.
  std::vector<std::string> optimizations() const;
  // load_report().fusion: each call shape tried, verified, timed and kept or not, and whether fusion was switched
  // off while running.
  FusionReport fusion() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tsnative
