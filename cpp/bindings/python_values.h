// Python objects <-> c10::IValue: numpy arrays (also inside tuples, lists and dicts) become tensors here, in C++,
// then LibTorch's own converters (torch/csrc/jit/python/pybind_utils.h) take the method's schema, so a Python int
// given for a float argument or a list for List[Tensor] converts as TorchScript would. Binding (count, keywords,
// defaults, types) is the core's (signature.h). Call with the GIL held.
#pragma once

#include <ATen/core/ivalue.h>
#include <pybind11/pybind11.h>

#include <vector>

#include "tsnative/engine.h"

namespace tsnative::python {

// The arguments of a predict() call (CPython's vectorcall form: `count` positional values, then one value per
// name in `keyword_names`, which may be null), converted to their schema types and completed in schema order.
// Throws InvalidType when one cannot be converted, or a keyword is unknown or given twice. Count checks are the
// core's (Engine::run).
std::vector<c10::IValue> call_arguments(const Engine& engine, PyObject* const* args, Py_ssize_t count,
                                        PyObject* keyword_names);

// A method's output as Python objects: Tensor, tuple, list, dict, int, float, bool, str or None.
pybind11::object output_to_python(c10::IValue output);

}  // namespace tsnative::python
