// Rewriting every tensor inside an IValue structure (tuples, lists, dicts, nested), e.g. to change its device.
#pragma once

#include <ATen/core/ivalue.h>
#include <c10/core/Device.h>

#include <functional>
#include <string>
#include <vector>

namespace tsnative::detail {

// A copy of `value` with `rewrite` applied to each defined tensor in it; containers are rebuilt with their element
// types kept (named tuples keep their type). Values that are not containers or tensors are shared.
c10::IValue map_tensors(const c10::IValue& value, const std::function<at::Tensor(const at::Tensor&)>& rewrite);

// A copy of `value` whose tensors are on `device`. Tensors already on `device` are shared, not copied.
c10::IValue to_device(const c10::IValue& value, c10::Device device);

// A list, or a dict with string `keys` (one per item), holding `items`, typed by their common type without tensor
// shapes (Dict[str, Tuple[Tensor, Tensor]] binds where Dict[str, Any] would not): Any when they differ, Tensor when
// there are none.
c10::IValue typed_list(std::vector<c10::IValue> items);
c10::IValue typed_dict(const std::vector<std::string>& keys, std::vector<c10::IValue> items);

}  // namespace tsnative::detail
