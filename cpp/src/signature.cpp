#include "tsnative/signature.h"

#include <sstream>

#include "tsnative/errors.h"

namespace tsnative {
namespace {

// TorchScript methods take `self` first; users never pass it.
constexpr size_t kSelf = 1;

std::string returns_of(const c10::FunctionSchema& schema) {
  const auto& returns = schema.returns();
  if (returns.empty()) return "None";
  if (returns.size() == 1) return returns[0].type()->annotation_str();
  std::string out = "Tuple[";
  for (size_t i = 0; i < returns.size(); ++i) out += (i ? ", " : "") + returns[i].type()->annotation_str();
  return out + "]";
}

std::string arguments_summary(const MethodSignature& signature) {
  std::string out;
  for (size_t i = 0; i < signature.arguments.size(); ++i) {
    out += (i ? ", " : "") + signature.arguments[i].name + ": " + signature.arguments[i].type;
  }
  return out;
}

}  // namespace

std::string MethodSignature::str() const {
  std::string out = name + "(";
  for (size_t i = 0; i < arguments.size(); ++i) {
    out += (i ? ", " : "") + arguments[i].name + ": " + arguments[i].type;
    if (arguments[i].default_value) out += " = " + *arguments[i].default_value;
  }
  return out + ") -> " + returns;
}

MethodSignature describe(const c10::FunctionSchema& schema) {
  MethodSignature signature{schema.name(), {}, returns_of(schema)};
  const auto& arguments = schema.arguments();
  for (size_t i = kSelf; i < arguments.size(); ++i) {
    ArgumentInfo info{arguments[i].name(), arguments[i].type()->annotation_str(), std::nullopt};
    if (arguments[i].default_value()) {
      std::ostringstream printed;
      printed << *arguments[i].default_value();
      info.default_value = printed.str();
    }
    signature.arguments.push_back(std::move(info));
  }
  return signature;
}

std::string type_mismatch_message(const MethodSignature& signature, size_t index, const std::string& given) {
  const auto& argument = signature.arguments.at(index);
  return signature.name + "(): argument '" + argument.name + "' (position " + std::to_string(index + 1) +
         ") expected " + argument.type + ", got " + given;
}

void bind_arguments(const c10::FunctionSchema& schema, std::vector<c10::IValue>& inputs) {
  const auto& arguments = schema.arguments();
  const size_t expected = arguments.size() - kSelf;
  if (inputs.size() > expected) {
    const MethodSignature signature = describe(schema);
    throw InvalidType(signature.name + "() takes " + std::to_string(expected) + " argument(s) (" +
                      arguments_summary(signature) + "), got " + std::to_string(inputs.size()));
  }
  for (size_t i = inputs.size(); i < expected; ++i) {
    const auto& argument = arguments[i + kSelf];
    if (!argument.default_value()) {
      const MethodSignature signature = describe(schema);
      throw InvalidType(signature.name + "() missing argument '" + argument.name() + "' (position " +
                        std::to_string(i + 1) + ", " + argument.type()->annotation_str() + "): takes " +
                        std::to_string(expected) + " argument(s) (" + arguments_summary(signature) + "), got " +
                        std::to_string(inputs.size()));
    }
    inputs.push_back(*argument.default_value());
  }
  for (size_t i = 0; i < expected; ++i) {
    const auto& argument = arguments[i + kSelf];
    // Tensors are by far the common case; checking the tag avoids building a TensorType per call.
    if (inputs[i].isTensor() && argument.type()->kind() == c10::TypeKind::TensorType) {
      // An undefined tensor is how None reaches a Tensor argument; the model would fail deep inside on it.
      if (!inputs[i].toTensor().defined()) throw InvalidType(type_mismatch_message(describe(schema), i, "None"));
      continue;
    }
    const c10::TypePtr given = inputs[i].type();
    if (!given->isSubtypeOf(*argument.type())) {
      throw InvalidType(type_mismatch_message(describe(schema), i, given->annotation_str()));
    }
  }
}

}  // namespace tsnative
