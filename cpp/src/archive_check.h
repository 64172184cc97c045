// Checks, before torch::jit::load parses anything, that a path is a TorchScript archive, so that each kind of
// wrong file gets its own one-line reason instead of LibTorch's internal message.
#pragma once

#include <string>

namespace tsnative::detail {

// Throws FileNotFound or ModelLoadError (empty, a directory, not a zip, truncated, a torch.save checkpoint).
void check_torchscript_archive(const std::string& path);

}  // namespace tsnative::detail
