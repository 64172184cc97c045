#include "common/ivalue_tensors.h"

namespace tsnative::detail {

c10::IValue map_tensors(const c10::IValue& value, const std::function<at::Tensor(const at::Tensor&)>& rewrite) {
  if (value.isTensor()) {
    const at::Tensor& tensor = value.toTensor();
    return tensor.defined() ? c10::IValue(rewrite(tensor)) : value;
  }
  if (value.isTuple()) {
    const auto& tuple = value.toTupleRef();
    std::vector<c10::IValue> elements;
    elements.reserve(tuple.size());
    for (const auto& element : tuple.elements()) elements.push_back(map_tensors(element, rewrite));
    // Named tuples keep their type so the Python side still sees field names.
    if (tuple.type()->schema()) return c10::ivalue::Tuple::createNamed(std::move(elements), tuple.type());
    return c10::ivalue::Tuple::create(std::move(elements));
  }
  if (value.isList()) {
    const auto list = value.toList();
    c10::impl::GenericList mapped(list.elementType());
    mapped.reserve(list.size());
    for (size_t i = 0; i < list.size(); ++i) mapped.push_back(map_tensors(list.get(i), rewrite));
    return mapped;
  }
  if (value.isGenericDict()) {
    const auto dict = value.toGenericDict();
    c10::impl::GenericDict mapped(dict.keyType(), dict.valueType());
    mapped.reserve(dict.size());
    for (const auto& entry : dict) mapped.insert(entry.key(), map_tensors(entry.value(), rewrite));
    return mapped;
  }
  return value;
}

c10::IValue to_device(const c10::IValue& value, c10::Device device) {
  return map_tensors(value, [device](const at::Tensor& tensor) { return tensor.to(device); });
}

namespace {

c10::TypePtr common_item_type(const std::vector<c10::IValue>& items) {
  c10::TypePtr common = c10::TensorType::get();
  for (size_t i = 0; i < items.size(); ++i) {
    const c10::TypePtr type = c10::unshapedType(items[i].type());
    if (i == 0) common = type;
    if (*type != *common) return c10::AnyType::get();
  }
  return common;
}

}  // namespace

c10::IValue typed_list(std::vector<c10::IValue> items) {
  c10::impl::GenericList list(common_item_type(items));
  for (auto& item : items) list.push_back(std::move(item));
  return list;
}

c10::IValue typed_dict(const std::vector<std::string>& keys, std::vector<c10::IValue> items) {
  c10::impl::GenericDict dict(c10::StringType::get(), common_item_type(items));
  for (size_t i = 0; i < items.size(); ++i) dict.insert(keys.at(i), std::move(items[i]));
  return dict;
}

}  // namespace tsnative::detail
