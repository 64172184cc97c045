// Which backend runs a file. TorchScript is the only format today; a second one is detected here by its content.
#include "backend.h"
#include "torchscript_backend.h"

namespace tsnative::detail {

std::unique_ptr<Backend> open_backend(const BackendRequest& request, LoadReport& report) {
  return load_torchscript(request, report);
}

}  // namespace tsnative::detail
