// CUDA graphs for an engine (EngineOptions::cuda_graphs): the method captured once per declared input shape and
// replayed, which removes the per-kernel launch cost; calls with other shapes run the method as usual.
#pragma once

#include <ATen/core/ivalue.h>
#include <c10/core/Device.h>
#include <torch/csrc/jit/ir/ir.h>

#include <functional>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tsnative/load_report.h"

namespace tsnative::detail {

class CudaGraphs {
 public:
  // Captures one CUDA graph per call in `calls` (complete argument lists, tensors on `device`); run after
  // warm-up, under the guards run() uses. A call that cannot be captured (non-tensor arguments, a model that
  // synchronises with the host) is left to the eager path and a skipped step in `steps` says why. Throws
  // DeviceUnavailable when this build cannot capture CUDA graphs at all. `forward` runs one call (the method, or the
  // executor specialised for that call's shapes); `graph` is the method's graph, checked for what a replay cannot
  // reproduce.
  CudaGraphs(const std::function<c10::IValue(const std::vector<c10::IValue>&)>& forward, const torch::jit::Graph& graph,
             const std::vector<std::vector<c10::IValue>>& calls, c10::Device device, std::vector<LoadStep>& steps);
  ~CudaGraphs();
  CudaGraphs(const CudaGraphs&) = delete;
  CudaGraphs& operator=(const CudaGraphs&) = delete;

  // When a graph was captured for tensors of exactly these shapes, dtypes and device: copies `inputs` into its
  // buffers, replays it and returns a copy of its output buffers (the next replay overwrites them), which the
  // caller owns. nullopt when none matches. Replays of one graph are serialised, since they share its buffers;
  // different graphs replay concurrently.
  std::optional<c10::IValue> replay(const std::vector<c10::IValue>& inputs) const;

  size_t size() const { return graphs_.size(); }
  std::vector<std::string> shapes() const;  // the call shapes captured

 private:
  struct Captured;
  c10::Device device_;
  std::vector<std::unique_ptr<Captured>> graphs_;
};

}  // namespace tsnative::detail
