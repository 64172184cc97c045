// Checks, before torch::jit::load parses anything, that a path is a TorchScript archive, so that each kind of
// wrong file gets its own one-line reason instead of LibTorch's internal message.
#pragma once

#include <cstdint>
#include <string>

namespace tsnative::detail {

// Throws FileNotFound or ModelLoadError (empty, a directory, not a zip, truncated, a torch.save checkpoint, and
// archives whose entries are implausible: too many, names escaping the archive, records declared larger than the
// file can hold — tensor data is stored uncompressed — or more data in total than `max_bytes`, 0: physical memory — and
// pickle records whose lengths or memo indices ask the unpickler for more than the record holds).
void check_torchscript_archive(const std::string& path, uint64_t max_bytes);

}  // namespace tsnative::detail
