// Rewriting every tensor inside an IValue structure (tuples, lists, dicts, nested), e.g. to change its device.
#pragma once

#include <ATen/core/ivalue.h>
#include <c10/core/Device.h>

#include <functional>

namespace tsnative::detail {

// A copy of `value` with `rewrite` applied to each defined tensor in it; containers are rebuilt with their element
// types kept (named tuples keep their type). Values that are not containers or tensors are shared.
c10::IValue map_tensors(const c10::IValue& value, const std::function<at::Tensor(const at::Tensor&)>& rewrite);

// A copy of `value` whose tensors are on `device`. Tensors already on `device` are shared, not copied.
c10::IValue to_device(const c10::IValue& value, c10::Device device);

}  // namespace tsnative::detail
