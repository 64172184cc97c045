// The pieces of tsnative._C, one function per bind_*.cpp, called from module.cpp.
#pragma once

#include <pybind11/pybind11.h>

namespace tsnative::python {

void bind_errors(pybind11::module_& module);
void bind_signature(pybind11::module_& module);
void bind_engine(pybind11::module_& module);
void bind_predict(pybind11::handle engine_class);  // Engine.predict and __call__, called by bind_engine
void bind_finetune(pybind11::module_& module);
void bind_metadata(pybind11::module_& module);

}  // namespace tsnative::python
