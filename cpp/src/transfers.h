// Moving an engine's inputs to its device and its outputs back to the host, with or without pinned memory.
#pragma once

#include <ATen/core/ivalue.h>
#include <c10/core/Device.h>

namespace tsnative::detail {

// `value` with its tensors on `device`. `pinned`: host tensors are staged in page-locked memory and copied
// asynchronously (on the device's current stream, which orders them before the model's kernels).
c10::IValue to_device_for_input(const c10::IValue& value, c10::Device device, bool pinned);

// `value` with its tensors on the host. `pinned`: copied into page-locked host memory asynchronously, then the
// current stream of `device` is waited for, so the returned tensors are complete.
c10::IValue to_host(const c10::IValue& value, c10::Device device, bool pinned);

}  // namespace tsnative::detail
