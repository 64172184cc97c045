// Compiled when a CUDA toolkit's runtime headers are there (TSNATIVE_CUDA_GRAPHS in cpp/CMakeLists.txt); otherwise
// cuda_graph_capture_unavailable.cpp takes its place.
#include "backends/torchscript/cuda_graph_capture.h"

#include <ATen/cuda/CUDAGraph.h>
#include <c10/core/Event.h>
#include <c10/core/StreamGuard.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>

// CUDAGraph's members depend on CUDA_VERSION (conditional nodes from 12.4): compiled against older headers than
// LibTorch was, the object's size would disagree with the library's and corrupt the heap. CMake checks this too.
static_assert(CUDA_VERSION >= 12040, "CUDA graph capture needs CUDA runtime headers 12.4 or newer");

namespace tsnative::detail {
namespace {

// A stream created for one graph and destroyed with it. LibTorch's pool hands its 32 streams to the whole
// process in turn: another thread queueing work on a pooled stream during the capture would have it recorded
// into this graph, and graphs captured on one stream share cuBLAS's per-stream workspace, which two concurrent
// replays would both write.
class OwnedStream {
 public:
  explicit OwnedStream(c10::DeviceIndex device)
      : raw_(create(device)), stream_(c10::cuda::getStreamFromExternal(raw_, device)) {}
  ~OwnedStream() { cudaStreamDestroy(raw_); }  // work still queued on it completes first (CUDA's rule)
  OwnedStream(const OwnedStream&) = delete;
  OwnedStream& operator=(const OwnedStream&) = delete;
  c10::Stream stream() const { return stream_.unwrap(); }

 private:
  static cudaStream_t create(c10::DeviceIndex device) {
    const c10::cuda::CUDAGuard on_device(device);
    cudaStream_t raw = nullptr;
    C10_CUDA_CHECK(cudaStreamCreateWithFlags(&raw, cudaStreamNonBlocking));
    return raw;
  }

  cudaStream_t raw_;
  c10::cuda::CUDAStream stream_;
};

class LibTorchGraph final : public CapturedGraph {
 public:
  explicit LibTorchGraph(c10::DeviceIndex device) : stream_(device) {}
  void replay() override { graph_.replay(); }
  at::cuda::CUDAGraph& graph() { return graph_; }
  c10::Stream stream() const { return stream_.stream(); }

 private:
  OwnedStream stream_;  // declared first: destroyed after the graph, whose reset() still refers to it
  at::cuda::CUDAGraph graph_;
};

}  // namespace

void require_cuda_graphs() {}

std::unique_ptr<CapturedGraph> capture_cuda_graph(c10::Device device, const std::function<void()>& body) {
  auto captured = std::make_unique<LibTorchGraph>(device.index());
  const c10::Stream caller_stream = c10::cuda::getCurrentCUDAStream(device.index()).unwrap();
  // The inputs were written on the caller's stream: the capture stream waits for them.
  c10::Event inputs_ready(c10::DeviceType::CUDA);
  inputs_ready.record(caller_stream);
  const c10::StreamGuard on_capture_stream(captured->stream());  // also makes `device` current
  inputs_ready.block(captured->stream());
  // No run on the capture stream before the capture (the engine's warm-up ran on the caller's stream, which
  // created the cuBLAS handle): cuBLAS's workspace for this stream is then allocated inside the capture, in the
  // graph's private memory pool, which lives as long as the graph. A workspace allocated before the capture
  // comes from the general pool, and torch.compile's CUDA graph trees free every cuBLAS workspace
  // (torch._C._cuda_clearCublasWorkspaces) whenever they record: a replay then wrote into freed memory ("an
  // illegal memory access" after torch.compile(mode="reduce-overhead") recorded a new batch size).
  // Thread-local mode: only this thread is barred from calls that are illegal while capturing (another engine's
  // thread may be loading or running meanwhile).
  captured->graph().capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
  try {
    body();
  } catch (...) {
    try {
      captured->graph().capture_end();  // leave capture mode; CUDA reports the capture as invalidated
    } catch (...) {
    }
    throw;
  }
  captured->graph().capture_end();
  captured->stream().synchronize();
  return captured;
}

}  // namespace tsnative::detail
