#include "tsnative/signature.h"

#include <algorithm>
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

namespace {

InvalidType missing_argument(const c10::FunctionSchema& schema, size_t index, size_t given) {
  const auto& argument = schema.arguments()[index + kSelf];
  const MethodSignature signature = describe(schema);
  return InvalidType(signature.name + "() missing argument '" + argument.name() + "' (position " +
                     std::to_string(index + 1) + ", " + argument.type()->annotation_str() + "): takes " +
                     std::to_string(signature.arguments.size()) + " argument(s) (" + arguments_summary(signature) +
                     "), got " + std::to_string(given));
}

}  // namespace

size_t keyword_position(const MethodSignature& signature, const std::string& name, size_t positional) {
  const auto& arguments = signature.arguments;
  for (size_t index = 0; index < arguments.size(); ++index) {
    if (arguments[index].name != name) continue;
    if (index < positional) throw InvalidType(signature.name + "() got multiple values for argument '" + name + "'");
    return index;
  }
  throw InvalidType(signature.name + "() got an unexpected keyword argument '" + name +
                    "' (arguments: " + arguments_summary(signature) + ")");
}

void add_keywords(const c10::FunctionSchema& schema, std::vector<c10::IValue>& inputs,
                  std::vector<std::optional<c10::IValue>> keywords) {
  // Keywords may skip over defaulted arguments: the gaps get their defaults, so the list stays positional.
  size_t end = keywords.size();
  while (end > inputs.size() && !keywords[end - 1]) --end;
  const size_t given = inputs.size() + static_cast<size_t>(std::count_if(keywords.begin(), keywords.end(),
                                                                         [](const auto& k) { return k.has_value(); }));
  for (size_t i = inputs.size(); i < end; ++i) {
    if (keywords[i]) {
      inputs.push_back(std::move(*keywords[i]));
    } else if (const auto& fallback = schema.arguments()[i + kSelf].default_value()) {
      inputs.push_back(*fallback);
    } else {
      throw missing_argument(schema, i, given);
    }
  }
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
    if (!argument.default_value()) throw missing_argument(schema, i, inputs.size());
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
