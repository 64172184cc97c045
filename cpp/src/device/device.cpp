#include "device/device.h"

#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/cuda.h>

#include "tsnative/errors.h"

namespace tsnative::detail {

c10::Device resolve_device(const std::string& spec) {
  const std::string expected = "expected \"cpu\", \"cuda\" or \"cuda:N\"";
  std::optional<c10::Device> parsed;
  try {
    parsed.emplace(spec);
  } catch (const c10::Error&) {
    throw InvalidValue("device: " + expected + ", got \"" + spec + "\"");
  }
  if (parsed->is_cpu()) return c10::Device(c10::kCPU);
  if (!parsed->is_cuda()) throw InvalidValue("device: " + expected + ", got \"" + spec + "\" (not supported)");

  if (!at::detail::getCUDAHooks().isBuilt()) {
    throw DeviceUnavailable("device \"" + spec +
                            "\" requested, but this LibTorch build has no CUDA support; use the CPU (device \"cpu\")");
  }
  const auto count = static_cast<int>(torch::cuda::device_count());
  if (count == 0) {
    throw DeviceUnavailable("device \"" + spec +
                            "\" requested, but CUDA is not available on this machine (no CUDA device or driver "
                            "found); use the CPU (device \"cpu\")");
  }
  const int index = parsed->has_index() ? parsed->index() : 0;
  if (index >= count) {
    throw DeviceUnavailable("device \"" + spec + "\" requested, but this machine has " + std::to_string(count) +
                            " CUDA device(s) (cuda:0 to cuda:" + std::to_string(count - 1) + ")");
  }
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
}

namespace {

// The CPU: the model reads its inputs where they are and its outputs are already on the host.
class CpuDevice final : public DeviceInterface {
 public:
  CpuDevice() : DeviceInterface(c10::Device(c10::kCPU)) {}
  c10::IValue to_device(c10::IValue inputs) const override { return inputs; }
  c10::IValue to_host(c10::IValue outputs) const override { return outputs; }
  void synchronize() const override {}
};

}  // namespace

std::unique_ptr<DeviceInterface> make_device_interface(const std::string& spec, bool pinned) {
  const c10::Device device = resolve_device(spec);
  if (device.is_cuda()) return make_cuda_device(device, pinned);
  return std::make_unique<CpuDevice>();
}

}  // namespace tsnative::detail
