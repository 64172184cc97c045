// Rewriting every tensor inside an IValue structure (tuples, lists, dicts, nested), e.g. to change its device.
#pragma once

#include <ATen/core/ivalue.h>
#include <c10/core/Device.h>

namespace tsnative::detail {

// A copy of `value` whose tensors are on `device`; containers are rebuilt with their element types kept.
// Tensors already on `device` are shared, not copied.
c10::IValue to_device(const c10::IValue& value, c10::Device device);

}  // namespace tsnative::detail
