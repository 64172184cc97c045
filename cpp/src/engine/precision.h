// Reduced-precision inference (EngineOptions::precision): the model's floating-point weights and inputs in
// float16 or bfloat16, outputs back in float32.
#pragma once

#include <ATen/core/ivalue.h>
#include <c10/core/ScalarType.h>
#include <torch/csrc/jit/api/module.h>

#include <optional>
#include <string>

namespace tsnative::detail {

// "fp32" -> nullopt (nothing to convert), "fp16" -> Half, "bf16" -> BFloat16. Throws InvalidValue otherwise.
std::optional<at::ScalarType> parse_precision(const std::string& precision);

// Converts the module's floating-point parameters and buffers, and the floating-point tensor constants in its
// methods' graphs (where a frozen module keeps its weights), to `dtype`. Integer tensors are left alone.
void convert_module(torch::jit::Module& module, at::ScalarType dtype);

// Floating-point tensors in `value` converted to `dtype` (inputs on their way in).
c10::IValue to_precision(const c10::IValue& value, at::ScalarType dtype);

// Tensors of `dtype` in `value` converted back to float32 (outputs on their way out).
c10::IValue to_float32(const c10::IValue& value, at::ScalarType dtype);

}  // namespace tsnative::detail
