// Compiled when the CUDA runtime headers are there (TSNATIVE_CUDA_GRAPHS in cpp/CMakeLists.txt); otherwise
// cuda_graph_capture_unavailable.cpp takes its place.
#include "cuda_graph_capture.h"

#include <ATen/cuda/CUDAGraph.h>
#include <c10/core/StreamGuard.h>
#include <c10/core/impl/VirtualGuardImpl.h>

namespace tsnative::detail {
namespace {

class LibTorchGraph final : public CapturedGraph {
 public:
  void replay() override { graph_.replay(); }
  at::cuda::CUDAGraph& graph() { return graph_; }

 private:
  at::cuda::CUDAGraph graph_;
};

}  // namespace

void require_cuda_graphs() {}

std::unique_ptr<CapturedGraph> capture_cuda_graph(c10::Device device, const std::function<void()>& body) {
  const c10::impl::VirtualGuardImpl cuda(c10::DeviceType::CUDA);
  const c10::Stream side_stream = cuda.getStreamFromGlobalPool(device);
  const c10::StreamGuard on_side_stream(side_stream);  // also makes `device` current
  // One run on the side stream first, as PyTorch's CUDA graph notes advise: lazy initialisation (cuBLAS
  // handles, workspaces) happens outside the capture, and the caching allocator has seen this stream.
  body();
  side_stream.synchronize();
  auto captured = std::make_unique<LibTorchGraph>();
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
  side_stream.synchronize();
  return captured;
}

}  // namespace tsnative::detail
