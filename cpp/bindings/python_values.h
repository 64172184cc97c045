// Python objects <-> c10::IValue, using LibTorch's own converters (torch/csrc/jit/python/pybind_utils.h) with
// the method's schema, so a Python int given for a float argument or a list for List[Tensor] converts as
// TorchScript would. Call with the GIL held.
#pragma once

#include <ATen/core/ivalue.h>
#include <pybind11/pybind11.h>

#include <vector>

#include "tsnative/engine.h"

namespace tsnative::python {

// The Python value given as the argument at `index` (0: the first after self), converted to its schema type.
// An index past the method's arguments gives a None placeholder: the core reports the count.
c10::IValue argument_from_python(const Engine& engine, size_t index, pybind11::handle value);

// Positional and keyword arguments of a predict() call, in schema order. Throws InvalidType when one cannot be
// converted to its argument's type, or a keyword is unknown or given twice. Count checks are left to the core.
std::vector<c10::IValue> arguments_from_python(const Engine& engine, const pybind11::args& args,
                                               const pybind11::kwargs& kwargs);

// A method's output as Python objects: Tensor, tuple, list, dict, int, float, bool, str or None.
pybind11::object output_to_python(c10::IValue output);

}  // namespace tsnative::python
