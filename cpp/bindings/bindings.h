// The pieces of tsnative._C, one function per bind_*.cpp, called from module.cpp.
#pragma once

#include <pybind11/pybind11.h>

namespace tsnative::python {

void bind_errors(pybind11::module_& module);
void bind_signature(pybind11::module_& module);
void bind_engine(pybind11::module_& module);
void bind_finetune(pybind11::module_& module);

}  // namespace tsnative::python
