// tsnative::Engine: one TorchScript model, loaded once, run many times on CPU or CUDA.
#pragma once

#include <ATen/core/ivalue.h>
#include <c10/core/Device.h>

#include <memory>
#include <string>
#include <vector>

#include "tsnative/load_report.h"
#include "tsnative/signature.h"

namespace tsnative {

// The TorchScript extra file in which tsnative.export records what the model expects (inputs, export mode...).
inline constexpr const char* kMetadataFile = "tsnative.json";

struct EngineOptions {
  std::string device = "cpu";      // "cpu", "cuda" (= "cuda:0") or "cuda:N"
  std::string method = "forward";  // the TorchScript method run() calls
  bool outputs_on_device = false;  // false: outputs are copied back to the CPU; true: left on `device`
  int threads = 0;                 // intra-op threads; LibTorch's setting is process-wide. 0 leaves it alone
  bool check_inputs = true;        // check tensors against the export metadata (dtype, rank, fixed dimensions)
  std::string sha256;              // when set, the file's SHA-256 (hex) must match before anything is parsed
  uint64_t max_archive_bytes = 0;  // refuse archives declaring more data than this; 0: the machine's memory
  // Inference optimisations (Engine::optimizations() lists what was applied):
  bool freeze = true;  // freeze a module whose graph still reads weights through attributes (conv+bn fold)
  // CPU, frozen modules: oneDNN Graph fusion, "auto" (tried on each warmup_shapes entry, kept where it gives the
  // unfused outputs and is faster), "on" (tried on every call shape, declared or on its first call, kept where it
  // gives the unfused outputs) or "off". A fused graph that raises later is dropped for good (Engine::fusion()).
  std::string onednn_fusion = "auto";
  // Shapes to run at load, so the profiling executor has optimised for them before the first real call: one
  // entry per call, one shape per tensor argument (random normal values for floating-point dtypes, zeros for
  // others; dtype from the export metadata, else float32).
  std::vector<std::vector<std::vector<int64_t>>> warmup_shapes;
  // One TorchScript executor per warmup_shapes entry, so each declared shape runs a graph optimised for it alone
  // (a shared executor optimises for the first shapes it sees; later ones ran up to 20% slower with fusion).
  bool executor_per_shape = true;
  // "fp32", or "fp16" / "bf16": floating-point weights and inputs converted at load and per call; floating-point
  // outputs come back as float32.
  std::string precision = "fp32";
  // CUDA: capture a CUDA graph per warmup_shapes entry and replay it for calls of exactly those shapes; other
  // shapes run as usual. Needs a CUDA device and warmup_shapes.
  bool cuda_graphs = false;
  // CUDA: stage host inputs and outputs in page-locked memory and copy them asynchronously.
  bool pinned_transfers = false;
};

class Engine {
 public:
  // Loads `path` onto the device. Throws FileNotFound, ModelLoadError, InvalidValue (bad device string or
  // method name) or DeviceUnavailable.
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
  // Thread-safe: several threads may call run() on one Engine at once.
  c10::IValue run(std::vector<c10::IValue> inputs) const;

  const MethodSignature& signature() const;
  const c10::FunctionSchema& schema() const;  // the raw TorchScript schema; its first argument is self
  std::vector<std::string> method_names() const;
  c10::Device device() const;
  const std::string& path() const;
  const EngineOptions& options() const;
  double load_seconds() const;  // wall time of the constructor: checks, torch::jit::load, eval, placement

  // The export metadata tsnative.export stores in the file (JSON text, see kMetadataFile); "" when absent.
  const std::string& metadata_json() const;
  // Elements in the module's parameters as loaded (0 for a file frozen at export, whose weights are constants).
  int64_t parameter_count() const;
  // The optimisations applied at load, e.g. {"freeze", "onednn_fusion x2", "warmup x2"}, and notes on those
  // skipped: for people. fusion() gives the facts.
  const std::vector<std::string>& optimizations() const;
  // What oneDNN Graph fusion did: each call shape tried, verified, timed and kept or not, and whether it was
  // switched off while running. A snapshot: in "on" mode new call shapes are tried as they come.
  FusionReport fusion() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tsnative
