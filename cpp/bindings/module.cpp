#include "bindings.h"

// tsnative._C: thin Python access to the C++ core.
PYBIND11_MODULE(_C, module) {
  // torch's Python module registers torch.Tensor's type, which every tensor conversion needs: imported here, so
  // that `import tsnative._C` works whatever was imported before (a no-op when torch is loaded already).
  pybind11::module_::import("torch");
  module.doc() = "tsnative's native core: TorchScript inference and fine-tuning in C++ (LibTorch)";
  tsnative::python::bind_errors(module);
  tsnative::python::bind_signature(module);
  tsnative::python::bind_engine(module);
  tsnative::python::bind_finetune(module);
  tsnative::python::bind_metadata(module);
}
