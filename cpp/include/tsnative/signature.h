// What a TorchScript method expects and returns, in a form both clients (Python, ts-infer) can show and check.
#pragma once

#include <ATen/core/function_schema.h>
#include <ATen/core/ivalue.h>

#include <optional>
#include <string>
#include <vector>

namespace tsnative {

struct ArgumentInfo {
  std::string name;
  std::string type;                          // TorchScript annotation, e.g. "Tensor", "Dict[str, Tensor]"
  std::optional<std::string> default_value;  // printed default, when the argument has one
};

struct MethodSignature {
  std::string name;
  std::vector<ArgumentInfo> arguments;  // without `self`
  std::string returns;                  // e.g. "Tensor", "Tuple[Tensor, Tensor]"

  // "forward(x: Tensor, h: Tensor) -> Tuple[Tensor, Tensor]"
  std::string str() const;
};

// Describes a method schema; the first argument (`self`) is left out.
MethodSignature describe(const c10::FunctionSchema& schema);

// Checks `inputs` (positional, without self) against the schema: count and types. Missing trailing arguments
// that have defaults are appended. Throws InvalidType naming the argument, what was expected and what was given.
void bind_arguments(const c10::FunctionSchema& schema, std::vector<c10::IValue>& inputs);

// Keyword arguments, for clients that have them (Python): the position of argument `name` in a call that has
// `positional` arguments before the keywords. Throws InvalidType for a name the method does not have, or one
// already given by position.
size_t keyword_position(const MethodSignature& signature, const std::string& name, size_t positional);

// Appends to `inputs` (the positional arguments) the keyword values, given at their positions (nullopt: not
// given; `keywords` may be shorter than the argument list), filling gaps with defaults. Throws InvalidType, as
// bind_arguments does, for a gap without a default.
void add_keywords(const c10::FunctionSchema& schema, std::vector<c10::IValue>& inputs,
                  std::vector<std::optional<c10::IValue>> keywords);

// "forward(): argument 'x' (position 1) expected Tensor, got str" — shared so every client words it the same.
std::string type_mismatch_message(const MethodSignature& signature, size_t index, const std::string& given);

}  // namespace tsnative
