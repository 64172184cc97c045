// The structure of an AOTInductor package's call: torch.export flattens the inputs (args, kwargs) to a list of
// tensors and the outputs from one, and records both structures as pytree specs (the loader's get_call_spec()).
// This unit reads those specs and flattens and rebuilds IValues by them, so that the engine binds and returns
// tuples, lists and dicts while the loader sees flat tensors.
#pragma once

#include <ATen/core/ivalue.h>

#include <string>
#include <vector>

namespace tsnative::detail {

struct TreeSpec {
  enum class Kind { kLeaf, kNone, kTuple, kList, kDict };
  Kind kind = Kind::kLeaf;
  std::vector<std::string> keys;   // kDict: the key of each child, in the order the values are flattened
  std::vector<TreeSpec> children;  // kTuple, kList, kDict
};

// A pytree spec as torch.utils._pytree.treespec_dumps writes it ([1, {"type": ..., "context": ...,
// "children_spec": [...]}]). Reads tuples (named tuples as tuples), lists, dicts with string keys (OrderedDicts as
// dicts), None and leaves; throws InvalidValue naming any other node type.
TreeSpec parse_tree_spec(const std::string& text);

// The positional arguments of an input spec: torch.export's in-spec is the tuple (args, kwargs). Throws
// InvalidValue when it is not that, or when kwargs are recorded (tsnative exports positional arguments).
std::vector<TreeSpec> positional_arguments(const TreeSpec& in_spec);

// The TorchScript type text of a structure, for the schema the engine binds against: "Tensor", "(Tensor, Tensor)",
// "Tensor[]", "Dict(str, Tensor)", "NoneType"; a list or dict whose items differ in structure is "Any[]" /
// "Dict(str, Any)".
std::string type_text(const TreeSpec& spec);

// Appends the tensors of `value` to `out` in the spec's order. `name` words the errors: "input 'features':
// expected a dict with keys ['ids', 'mask'], got keys ['ids']". Throws InvalidType / InvalidValue.
void flatten(const c10::IValue& value, const TreeSpec& spec, const std::string& name, std::vector<at::Tensor>& out);

// The number of tensors a structure holds.
size_t leaf_count(const TreeSpec& spec);

// The structure rebuilt from `tensors` (leaf_count(spec) of them, from `next` on; `next` is advanced).
c10::IValue unflatten(std::vector<at::Tensor>& tensors, size_t& next, const TreeSpec& spec);

}  // namespace tsnative::detail
