// The pieces of tsnative._C, one function per bind_*.cpp, called from module.cpp.
#pragma once

#include <pybind11/pybind11.h>

namespace tsnative {
class Engine;
}

namespace tsnative::python {

// The C++ engine of `self` (a tsnative.Engine) when it was loaded; otherwise TypeError. A Python object whose
// __init__ never built its engine (a subclass's __init__ that raised first, Engine.__new__(Engine)) reaches C++
// with no object behind it: pybind11 hands methods a null pointer.
Engine& loaded_engine(pybind11::handle self);

void bind_errors(pybind11::module_& module);
void bind_signature(pybind11::module_& module);
void bind_engine(pybind11::module_& module);
void bind_predict(pybind11::handle engine_class);  // Engine.predict and __call__, called by bind_engine
void bind_finetune(pybind11::module_& module);
void bind_metadata(pybind11::module_& module);

}  // namespace tsnative::python
