// Reduced-precision inference (EngineOptions::precision), the engine's part: the option parsed, inputs cast to
// float16 or bfloat16 on their way in, outputs back to float32. The weights are the backend's
// (backends/torchscript/module_precision.h).
#pragma once

#include <ATen/core/ivalue.h>
#include <c10/core/ScalarType.h>

#include <optional>
#include <string>

namespace tsnative::detail {

// "fp32" -> nullopt (nothing to convert), "fp16" -> Half, "bf16" -> BFloat16. Throws InvalidValue otherwise.
std::optional<at::ScalarType> parse_precision(const std::string& precision);

// Floating-point tensors in `value` converted to `dtype` (inputs on their way in).
c10::IValue to_precision(const c10::IValue& value, at::ScalarType dtype);

// Tensors of `dtype` in `value` converted back to float32 (outputs on their way out).
c10::IValue to_float32(const c10::IValue& value, at::ScalarType dtype);

}  // namespace tsnative::detail
