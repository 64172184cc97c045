#include "transfers.h"

#include <ATen/ops/empty.h>
#include <c10/core/impl/VirtualGuardImpl.h>

#include "ivalue_tensors.h"

namespace tsnative::detail {

c10::IValue to_device_for_input(const c10::IValue& value, c10::Device device, bool pinned) {
  if (!pinned) return to_device(value, device);
  return map_tensors(value, [device](const at::Tensor& tensor) {
    if (tensor.device() == device) return tensor;
    // Copying from pageable memory makes the driver stage it synchronously; from pinned memory the DMA runs
    // asynchronously, and LibTorch's host allocator keeps the staging block until the copy has finished.
    // contiguous() first: pinning keeps strides, and a strided source would be copied through pageable memory.
    const at::Tensor staged = tensor.is_cpu() ? tensor.contiguous().pin_memory() : tensor;
    return staged.to(staged.options().device(device), /*non_blocking=*/true);
  });
}

c10::IValue to_host(const c10::IValue& value, c10::Device device, bool pinned) {
  const c10::Device host(c10::kCPU);
  if (!pinned) return to_device(value, host);
  c10::IValue copied = map_tensors(value, [host](const at::Tensor& tensor) {
    if (tensor.device() == host) return tensor;
    at::Tensor pinned_copy = at::empty(tensor.sizes(), tensor.options().device(host).pinned_memory(true));
    pinned_copy.copy_(tensor, /*non_blocking=*/true);
    return pinned_copy;
  });
  c10::impl::VirtualGuardImpl(device.type()).getStream(device).synchronize();
  return copied;
}

}  // namespace tsnative::detail
