// Built instead of cuda_graph_capture.cpp when complete CUDA runtime headers (a toolkit's) were not found at
// configure time: engines refuse cuda_graphs=true with this reason.
#include "backends/torchscript/cuda_graph_capture.h"
#include "tsnative/errors.h"

namespace tsnative::detail {

void require_cuda_graphs() {
  throw DeviceUnavailable(
      "cuda_graphs: this tsnative was built without the CUDA runtime headers, so it cannot capture CUDA graphs "
      "(rebuild with a CUDA toolkit installed)");
}

std::unique_ptr<CapturedGraph> capture_cuda_graph(c10::Device, const std::function<void()>&) {
  require_cuda_graphs();
  return nullptr;  // not reached
}

}  // namespace tsnative::detail
