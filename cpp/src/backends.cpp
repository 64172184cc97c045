// Which backend runs a file, decided by its content: an AOTInductor package (.pt2) or a TorchScript archive.
#include "aoti_backend.h"
#include "archive_check.h"
#include "backend.h"
#include "model_bytes.h"
#include "torchscript_backend.h"

namespace tsnative::detail {

std::unique_ptr<Backend> open_backend(const BackendRequest& request, LoadReport& report) {
  // A first look at the zip's directory; each backend then opens and checks the file fully (FileNotFound and
  // every malformed-file reason come from there).
  bool package = false;
  try {
    package = is_aoti_package(ModelBytes::open(request.path, 0, ModelBytes::Hold::kFile));
  } catch (const Error&) {
  }
  return package ? load_aoti(request, report) : load_torchscript(request, report);
}

}  // namespace tsnative::detail
