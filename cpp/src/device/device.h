// The device an engine runs on, behind one interface (as torchcodec keeps CUDA in its device interface): the engine
// moves inputs there and outputs back without knowing which device it is. CUDA's rules (streams, pinned staging,
// synchronisation) live in cuda_device.cpp alone.
#pragma once

#include <ATen/core/ivalue.h>
#include <c10/core/Device.h>

#include <memory>
#include <string>

namespace tsnative::detail {

class DeviceInterface {
 public:
  explicit DeviceInterface(c10::Device device) : device_(device) {}
  virtual ~DeviceInterface() = default;

  c10::Device device() const { return device_; }
  // `inputs` with their tensors on the device.
  virtual c10::IValue to_device(c10::IValue inputs) const = 0;
  // `outputs` with their tensors on the host, complete (any asynchronous copy finished).
  virtual c10::IValue to_host(c10::IValue outputs) const = 0;
  // Waits for the work queued on the device (for timing).
  virtual void synchronize() const = 0;

 private:
  c10::Device device_;
};

// "cpu" -> cpu; "cuda" -> cuda:0; "cuda:N" -> cuda:N. Throws InvalidValue for a malformed or unsupported string
// and DeviceUnavailable when CUDA (or that index) cannot be used on this machine.
c10::Device resolve_device(const std::string& spec);

// The interface for `spec` (see resolve_device). `pinned`: CUDA copies staged in page-locked host memory,
// asynchronous.
std::unique_ptr<DeviceInterface> make_device_interface(const std::string& spec, bool pinned);

// The CUDA implementation (cuda_device.cpp).
std::unique_ptr<DeviceInterface> make_cuda_device(c10::Device device, bool pinned);

}  // namespace tsnative::detail
