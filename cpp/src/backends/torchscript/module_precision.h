// A TorchScript module's weights in reduced precision (EngineOptions::precision), for the TorchScript backend; the
// engine casts the inputs and outputs (engine/precision.h).
#pragma once

#include <c10/core/ScalarType.h>
#include <torch/csrc/jit/api/module.h>

namespace tsnative::detail {

// Converts the module's floating-point parameters and buffers, and the floating-point tensor constants in its
// methods' graphs (where a frozen module keeps its weights), to `dtype`. Integer tensors are left alone.
void convert_module(torch::jit::Module& module, at::ScalarType dtype);

}  // namespace tsnative::detail
