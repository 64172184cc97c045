// CUDA as an engine's device: inputs copied to the GPU (through pinned memory when asked), outputs copied back
// complete, synchronisation for timing.
#include <ATen/ops/empty.h>
#include <c10/core/impl/VirtualGuardImpl.h>
#include <torch/cuda.h>

#include "common/ivalue_tensors.h"
#include "device/device.h"

namespace tsnative::detail {
namespace {

class CudaDevice final : public DeviceInterface {
 public:
  CudaDevice(c10::Device device, bool pinned) : DeviceInterface(device), pinned_(pinned) {}

  c10::IValue to_device(c10::IValue inputs) const override {
    const c10::Device target = device();
    if (!pinned_) return detail::to_device(inputs, target);
    return map_tensors(inputs, [target](const at::Tensor& tensor) {
      if (tensor.device() == target) return tensor;
      // Copying from pageable memory makes the driver stage it synchronously; from pinned memory the DMA runs
      // asynchronously, and LibTorch's host allocator keeps the staging block until the copy has finished.
      // contiguous() first: pinning keeps strides, and a strided source would be copied through pageable memory.
      const at::Tensor staged = tensor.is_cpu() ? tensor.contiguous().pin_memory() : tensor;
      return staged.to(staged.options().device(target), /*non_blocking=*/true);
    });
  }

  c10::IValue to_host(c10::IValue outputs) const override {
    const c10::Device host(c10::kCPU);
    if (!pinned_) return detail::to_device(outputs, host);
    c10::IValue copied = map_tensors(outputs, [host](const at::Tensor& tensor) {
      if (tensor.device() == host) return tensor;
      at::Tensor pinned_copy = at::empty(tensor.sizes(), tensor.options().device(host).pinned_memory(true));
      pinned_copy.copy_(tensor, /*non_blocking=*/true);
      return pinned_copy;
    });
    // The copies were queued on the device's current stream: wait for them before the caller reads the tensors.
    c10::impl::VirtualGuardImpl(device().type()).getStream(device()).synchronize();
    return copied;
  }

  // Kernels are queued asynchronously: a clock read without this measures only their launch.
  void synchronize() const override { torch::cuda::synchronize(device().index()); }

 private:
  bool pinned_;
};

}  // namespace

std::unique_ptr<DeviceInterface> make_cuda_device(c10::Device device, bool pinned) {
  return std::make_unique<CudaDevice>(device, pinned);
}

}  // namespace tsnative::detail
