#include "backends/torchscript/cuda_graphs.h"

#include <c10/core/DeviceGuard.h>
#include <c10/core/Event.h>
#include <c10/core/impl/VirtualGuardImpl.h>
#include <torch/csrc/jit/ir/ir.h>

#include <mutex>

#include "backends/torchscript/call_shape.h"
#include "backends/torchscript/cuda_graph_capture.h"
#include "common/error_text.h"
#include "common/ivalue_tensors.h"

namespace tsnative::detail {

struct CudaGraphs::Captured {
  CallShape shape;                 // the calls this graph replays for
  std::vector<at::Tensor> inputs;  // the buffers the graph reads: each call's inputs are copied in
  c10::IValue output;              // the buffers the graph writes: copied out after each replay
  std::unique_ptr<CapturedGraph> graph;
  std::mutex mutex;  // one replay at a time per graph: its buffers are shared
  // Recorded after a replay's outputs are copied out; the next replay's stream waits on it before refilling the
  // inputs, so a caller on another stream cannot overwrite buffers still in use.
  c10::Event released{c10::DeviceType::CUDA};
};

namespace {

// Why the method's graph cannot be replayed faithfully, or "" when it can: tasks forked to other threads run on
// their default stream, outside the capture; random numbers would repeat on every replay (no generator state is
// registered with the graph).
std::string uncapturable(const torch::jit::Block* block) {
  for (const torch::jit::Node* node : block->nodes()) {
    if (node->kind() == c10::prim::fork) return "the model forks tasks to other threads";
    if (node->isNondeterministic())
      return "the model draws random numbers (" + std::string(node->kind().toQualString()) + ")";
    for (const torch::jit::Block* inner : node->blocks()) {
      if (auto reason = uncapturable(inner); !reason.empty()) return reason;
    }
  }
  return "";
}

}  // namespace

CudaGraphs::CudaGraphs(const std::function<c10::IValue(const std::vector<c10::IValue>&)>& forward,
                       const torch::jit::Graph& graph, const std::vector<std::vector<c10::IValue>>& calls,
                       c10::Device device, std::vector<LoadStep>& steps)
    : device_(device) {
  require_cuda_graphs();
  if (const auto reason = uncapturable(graph.block()); !reason.empty()) {
    steps.push_back({"cuda_graphs", false, {}, reason, "cuda_graphs skipped (" + reason + ")"});
    return;
  }
  for (const auto& call : calls) {
    auto shape = CallShape::of(call);
    if (!shape) {
      const std::string reason = "the method takes arguments other than tensors";
      steps.push_back({"cuda_graphs", false, {}, reason, "cuda_graphs skipped (" + reason + ")"});
      return;
    }
    auto captured = std::make_unique<Captured>();
    captured->shape = *shape;
    // The graph's own input buffers, outliving the warm-up tensors they start from.
    for (const auto& value : call) captured->inputs.push_back(value.toTensor().clone());
    const std::vector<c10::IValue> arguments(captured->inputs.begin(), captured->inputs.end());
    try {
      captured->graph = capture_cuda_graph(device, [&] { captured->output = forward(arguments); });
    } catch (const std::exception& e) {
      const std::string reason = first_line(e.what());
      steps.push_back({"cuda_graphs",
                       false,
                       {shape->text()},
                       reason,
                       "cuda_graphs skipped for shapes " + shape->text() + " (" + reason + ")"});
      continue;
    }
    graphs_.push_back(std::move(captured));
  }
}

CudaGraphs::~CudaGraphs() {
  // A replay whose outputs stayed on the device may still be running: its buffers (and the graph's memory pool)
  // must not return to the allocator before it ends. A no-op for a graph never replayed. After a CUDA error the
  // context is unusable and synchronize() throws: a destructor must not (std::terminate at exit), and there is
  // nothing left to wait for.
  for (const auto& captured : graphs_) {
    try {
      captured->released.synchronize();
    } catch (const std::exception&) {
    }
  }
}

std::vector<std::string> CudaGraphs::shapes() const {
  std::vector<std::string> texts;
  for (const auto& captured : graphs_) texts.push_back(captured->shape.text());
  return texts;
}

std::optional<c10::IValue> CudaGraphs::replay(const std::vector<c10::IValue>& inputs) const {
  Captured* match = nullptr;
  for (const auto& captured : graphs_) {
    if (captured->shape.fits(inputs)) {  // copy_ below lays any layout out in the graph's buffers
      match = captured.get();
      break;
    }
  }
  if (match == nullptr) return std::nullopt;

  const std::lock_guard lock(match->mutex);
  const c10::DeviceGuard on_device(device_);
  const c10::Stream stream = c10::impl::VirtualGuardImpl(c10::DeviceType::CUDA).getStream(device_);
  match->released.block(stream);
  for (size_t i = 0; i < inputs.size(); ++i) match->inputs[i].copy_(inputs[i].toTensor(), /*non_blocking=*/true);
  match->graph->replay();
  // The caller's own copy, made on the stream before the buffers are released to the next replay.
  c10::IValue output = map_tensors(match->output, [](const at::Tensor& buffer) { return buffer.clone(); });
  match->released.record(stream);
  return output;
}

}  // namespace tsnative::detail
