// One captured CUDA graph: LibTorch's at::cuda::CUDAGraph behind an interface that needs no CUDA headers, so the
// engine compiles the same with or without them (only cuda_graph_capture.cpp includes them).
#pragma once

#include <c10/core/Device.h>

#include <functional>
#include <memory>

namespace tsnative::detail {

class CapturedGraph {
 public:
  virtual ~CapturedGraph() = default;
  // Launches the recorded kernels on the current stream of the device it was captured on.
  virtual void replay() = 0;
};

// Throws DeviceUnavailable, saying why, when this build cannot capture CUDA graphs (it was compiled without the
// CUDA runtime headers).
void require_cuda_graphs();

// Records the CUDA work `body` queues on `device` into a graph, on a side stream (CUDA cannot capture the default
// stream) and with its own memory pool, which keeps the buffers `body` allocates alive for replays. Throws what
// `body` throws, or c10::Error when CUDA refuses the capture (the model synchronised with the host, for example);
// the stream is out of capture mode again either way.
std::unique_ptr<CapturedGraph> capture_cuda_graph(c10::Device device, const std::function<void()>& body);

}  // namespace tsnative::detail
