// Checks, before torch::jit::load parses anything, that a path is a TorchScript archive, so that each kind of
// wrong file gets its own one-line reason instead of LibTorch's internal message.
#pragma once

#include <caffe2/serialize/read_adapter_interface.h>

#include <cstdint>
#include <memory>
#include <string>

namespace tsnative::detail {

// Checks the archive in `bytes` (the file at `path`, read by ModelBytes, which refuses what is not a non-empty
// regular file). Throws ModelLoadError (not a zip, truncated, a torch.save checkpoint, and
// archives whose entries are implausible: too many, names escaping the archive, records declared larger than the
// file can hold — tensor data is stored uncompressed — or more data in total than `max_bytes`, 0: physical memory — and
// pickle records whose lengths or memo indices ask the unpickler for more than the record holds).
void check_torchscript_archive(const std::string& path,
                               const std::shared_ptr<caffe2::serialize::ReadAdapterInterface>& bytes,
                               uint64_t max_bytes);

// Whether `bytes` hold an AOTInductor package (torch._inductor.aoti_compile_and_package: a zip whose
// archive_format record says "pt2"); false for anything else, a TorchScript archive or a corrupt file included.
bool is_aoti_package(const std::shared_ptr<caffe2::serialize::ReadAdapterInterface>& bytes);

// The checks of check_torchscript_archive that apply to an AOTInductor package (its entries; it has no pickles),
// before AOTIModelPackageLoader extracts anything. Throws ModelLoadError.
void check_aoti_package(const std::string& path, const std::shared_ptr<caffe2::serialize::ReadAdapterInterface>& bytes,
                        uint64_t max_bytes);

}  // namespace tsnative::detail
