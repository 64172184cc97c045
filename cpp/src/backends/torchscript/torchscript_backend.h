// The TorchScript backend: a module loaded by torch::jit::load, frozen, converted to the engine's precision, run
// by TorchScript executors (one per declared shape), with oneDNN Graph fusion where verified and CUDA graphs where
// asked for.
#pragma once

#include <memory>

#include "backends/backend.h"

namespace tsnative::detail {

std::unique_ptr<Backend> load_torchscript(const BackendRequest& request, LoadReport& report);

}  // namespace tsnative::detail
