#include "ivalue_tensors.h"

namespace tsnative::detail {

c10::IValue to_device(const c10::IValue& value, c10::Device device) {
  if (value.isTensor()) {
    const at::Tensor& tensor = value.toTensor();
    return tensor.defined() ? c10::IValue(tensor.to(device)) : value;
  }
  if (value.isTuple()) {
    const auto& tuple = value.toTupleRef();
    std::vector<c10::IValue> elements;
    elements.reserve(tuple.size());
    for (const auto& element : tuple.elements()) elements.push_back(to_device(element, device));
    // Named tuples keep their type so the Python side still sees field names.
    if (tuple.type()->schema()) return c10::ivalue::Tuple::createNamed(std::move(elements), tuple.type());
    return c10::ivalue::Tuple::create(std::move(elements));
  }
  if (value.isList()) {
    const auto list = value.toList();
    c10::impl::GenericList moved(list.elementType());
    moved.reserve(list.size());
    for (size_t i = 0; i < list.size(); ++i) moved.push_back(to_device(list.get(i), device));
    return moved;
  }
  if (value.isGenericDict()) {
    const auto dict = value.toGenericDict();
    c10::impl::GenericDict moved(dict.keyType(), dict.valueType());
    moved.reserve(dict.size());
    for (const auto& entry : dict) moved.insert(entry.key(), to_device(entry.value(), device));
    return moved;
  }
  return value;
}

}  // namespace tsnative::detail
