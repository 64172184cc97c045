// The building blocks of tsnative::finetune (finetune.h), for C++ users with their own training loop.
#pragma once

#include <ATen/core/Generator.h>
#include <torch/csrc/jit/api/module.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tsnative/finetune.h"

namespace tsnative {

// Replaces the Linear-like submodule `head` (with a 2-D `weight` and 1-D `bias`) by a freshly initialised one of
// `classes` outputs, as nn.Linear initialises: weight and bias uniform in +-1/sqrt(in_features). The submodule
// keeps its TorchScript type, so the compiled forward stays valid. Returns in_features. Throws InvalidValue naming
// the attribute when it is missing or not Linear-like, and explaining freezing when the module is frozen.
int64_t replace_head(torch::jit::Module& module, const std::string& head, int64_t classes, at::Generator& generator);

// Sets requires_grad: every parameter (kAll), or the head's alone (kHead). Returns the parameters to optimise.
std::vector<at::Tensor> set_trainable(torch::jit::Module& module, const std::string& head, Trainable trainable);

// Training mode for what trains: the whole module (kAll), or the head alone with the frozen rest in eval mode, so
// that batch-norm statistics and dropout of the backbone do not change (kHead).
void set_training_mode(torch::jit::Module& module, const std::string& head, Trainable trainable);

}  // namespace tsnative
