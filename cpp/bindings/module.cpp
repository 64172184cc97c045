#include "bindings.h"

// tsnative._C: thin Python access to the C++ core. python/tsnative/__init__.py imports torch before this
// module, which loads libtorch and registers torch.Tensor's type for the tensor conversions.
PYBIND11_MODULE(_C, module) {
  module.doc() = "tsnative's native core: TorchScript inference and fine-tuning in C++ (LibTorch)";
  tsnative::python::bind_errors(module);
  tsnative::python::bind_signature(module);
  tsnative::python::bind_engine(module);
  tsnative::python::bind_finetune(module);
  tsnative::python::bind_metadata(module);
}
