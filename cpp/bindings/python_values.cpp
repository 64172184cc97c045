#include "python_values.h"

#include <torch/csrc/jit/python/pybind_utils.h>
#include <torch/csrc/utils/tensor_numpy.h>

#include "tsnative/errors.h"

namespace py = pybind11;

namespace tsnative::python {
namespace {

// How a Python value reads in an error message: its Python type name ("str", "dict", "Tensor").
std::string describe_python_value(py::handle value) {
  if (value.is_none()) return "None";
  return py::str(py::type::handle_of(value).attr("__name__"));
}

bool is_numpy_array(py::handle value) {
  // Kept for the life of the process; imported on first use, with the GIL held (every caller holds it).
  static PyObject* const array_type = py::object(py::module_::import("numpy").attr("ndarray")).release().ptr();
  return PyObject_TypeCheck(value.ptr(), reinterpret_cast<PyTypeObject*>(array_type)) != 0;
}

// `value` with numpy arrays (also inside tuples, lists and dicts) as tensors and numpy scalars as Python ones.
// Arrays share memory with their tensors; a read-only array is copied, since torch cannot wrap it safely, and so
// is one with a negative stride (img[..., ::-1], BGR to RGB), which a tensor cannot describe.
// Tensors, None and plain Python scalars, the common arguments, return at once.
py::object with_numpy_as_torch(py::handle value) {
  PyObject* object = value.ptr();
  if (THPVariable_Check(object) || value.is_none() || PyBool_Check(object) || PyLong_CheckExact(object) ||
      PyFloat_CheckExact(object) || PyUnicode_CheckExact(object)) {
    return py::reinterpret_borrow<py::object>(value);
  }
  if (torch::utils::is_numpy_available() && is_numpy_array(value)) {
    const bool writeable = value.attr("flags").attr("writeable").cast<bool>();
    bool negative_stride = false;
    for (const auto& stride : py::reinterpret_steal<py::tuple>(PyObject_GetAttrString(object, "strides"))) {
      negative_stride = negative_stride || stride.cast<int64_t>() < 0;
    }
    const py::object array =
        writeable && !negative_stride ? py::reinterpret_borrow<py::object>(value) : value.attr("copy")();
    return py::reinterpret_steal<py::object>(THPVariable_Wrap(torch::utils::tensor_from_numpy(array.ptr())));
  }
  if (torch::utils::is_numpy_scalar(object)) return value.attr("item")();
  if (!PyTuple_Check(object) && !PyList_Check(object) && !PyDict_Check(object)) {
    return py::reinterpret_borrow<py::object>(value);
  }
  // Containers nest: a list that contains itself, or one nested too deeply, is Python's RecursionError, not a
  // stack overflow.
  if (Py_EnterRecursiveCall(" while converting a tsnative.Engine argument") != 0) throw py::error_already_set();
  struct LeaveRecursiveCall {
    ~LeaveRecursiveCall() { Py_LeaveRecursiveCall(); }
  } leave;
  if (PyTuple_Check(object)) {
    const auto tuple = py::reinterpret_borrow<py::tuple>(value);
    py::list items;
    for (const auto& item : tuple) items.append(with_numpy_as_torch(item));
    // A named tuple keeps its type: TorchScript matches NamedTuple arguments by it.
    if (py::hasattr(value, "_fields")) return py::type::handle_of(value)(*items);
    return py::tuple(items);
  }
  if (PyList_Check(object)) {
    py::list items;
    for (const auto& item : py::reinterpret_borrow<py::list>(value)) items.append(with_numpy_as_torch(item));
    return std::move(items);
  }
  if (PyDict_Check(object)) {
    py::dict items;
    for (const auto& [key, item] : py::reinterpret_borrow<py::dict>(value)) items[key] = with_numpy_as_torch(item);
    return std::move(items);
  }
  return py::reinterpret_borrow<py::object>(value);
}

// The Python value given for the argument at `index` (0: the first after self), as its schema type. An index past
// the method's arguments gives a None placeholder: the core reports the count.
c10::IValue convert_argument(const Engine& engine, size_t index, py::handle given) {
  if (index >= engine.signature().arguments.size()) return {};
  const c10::Argument& argument = engine.schema().arguments().at(index + 1);  // +1: skip self
  // LibTorch turns None into an undefined tensor for a Tensor argument; the core refuses that with the same
  // message, but saying it here keeps the Python type name.
  if (given.is_none() && argument.real_type()->kind() == c10::TypeKind::TensorType) {
    throw InvalidType(type_mismatch_message(engine.signature(), index, "None"));
  }
  py::object value;
  try {
    value = with_numpy_as_torch(given);
  } catch (py::error_already_set& e) {  // e.g. RecursionError: a container that holds itself
    const std::string kind = py::str(e.type().attr("__name__"));
    throw InvalidType(type_mismatch_message(engine.signature(), index, describe_python_value(given)) + " (" + kind +
                      ": " + std::string(py::str(e.value())) + ")");
  } catch (python_error& e) {  // the same, raised inside torch's numpy helpers: the Python error is still pending
    e.persist();               // takes it (clearing it) and makes the message
    const std::string kind = e.type != nullptr ? std::string(py::str(py::handle(e.type).attr("__name__"))) : "Error";
    throw InvalidType(type_mismatch_message(engine.signature(), index, describe_python_value(given)) + " (" + kind +
                      ": " + e.what() + ")");
  } catch (const std::exception& e) {  // an array torch cannot hold, e.g. of strings: torch's reason says which
    const std::string reason = e.what();
    throw InvalidType(type_mismatch_message(engine.signature(), index, describe_python_value(given)) + " (" +
                      reason.substr(0, reason.find('\n')) + ")");
  }
  try {
    return torch::jit::toIValue(value, argument.real_type(), argument.N());
  } catch (const py::cast_error&) {
  } catch (const py::error_already_set&) {
  } catch (const c10::Error&) {
  }
  throw InvalidType(type_mismatch_message(engine.signature(), index, describe_python_value(given)));
}

}  // namespace

std::vector<c10::IValue> call_arguments(const Engine& engine, PyObject* const* args, Py_ssize_t count,
                                        PyObject* keyword_names) {
  std::vector<c10::IValue> inputs;
  inputs.reserve(static_cast<size_t>(count));
  for (Py_ssize_t i = 0; i < count; ++i) inputs.push_back(convert_argument(engine, static_cast<size_t>(i), args[i]));
  if (keyword_names == nullptr) return inputs;

  const auto names = py::reinterpret_borrow<py::tuple>(keyword_names);
  std::vector<std::optional<c10::IValue>> keywords(engine.signature().arguments.size());
  for (size_t i = 0; i < names.size(); ++i) {
    const size_t position = keyword_position(engine.signature(), py::str(names[i]), inputs.size());
    keywords[position] = convert_argument(engine, position, args[count + static_cast<Py_ssize_t>(i)]);
  }
  add_keywords(engine.schema(), inputs, std::move(keywords));
  return inputs;
}

py::object output_to_python(c10::IValue output) { return torch::jit::toPyObject(std::move(output)); }

}  // namespace tsnative::python
