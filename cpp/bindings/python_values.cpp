#include "python_values.h"

#include <pybind11/gil_safe_call_once.h>
#include <torch/csrc/jit/python/pybind_utils.h>

#include "tsnative/errors.h"

namespace py = pybind11;

namespace tsnative::python {
namespace {

// How a Python value reads in an error message: its Python type name ("str", "dict", "Tensor").
std::string describe_python_value(py::handle value) {
  if (value.is_none()) return "None";
  return py::str(py::type::handle_of(value).attr("__name__"));
}

// Values that may hold numpy arrays go through tsnative.engine._as_torch first (arrays, also inside containers,
// become tensors), so numpy handling lives in one place. Tensors, None and plain Python scalars, the common
// arguments, skip that Python call (np.float64 subclasses float: the exact checks keep it on the numpy path).
bool needs_numpy_conversion(py::handle value) {
  PyObject* object = value.ptr();
  return !(THPVariable_Check(object) || value.is_none() || PyBool_Check(object) || PyLong_CheckExact(object) ||
           PyFloat_CheckExact(object) || PyUnicode_CheckExact(object));
}

py::object as_torch(py::handle value) {
  PYBIND11_CONSTINIT static py::gil_safe_call_once_and_store<py::object> converter;
  const py::object& convert =
      converter.call_once_and_store_result([] { return py::module_::import("tsnative.engine").attr("_as_torch"); })
          .get_stored();
  return convert(value);
}

c10::IValue convert_argument(const Engine& engine, size_t index, py::handle given) {
  const c10::Argument& argument = engine.schema().arguments().at(index + 1);  // +1: skip self
  // LibTorch turns None into an undefined tensor for a Tensor argument; the core refuses that with the same
  // message, but saying it here keeps the Python type name.
  if (given.is_none() && argument.real_type()->kind() == c10::TypeKind::TensorType) {
    throw InvalidType(type_mismatch_message(engine.signature(), index, "None"));
  }
  const py::object value = needs_numpy_conversion(given) ? as_torch(given) : py::reinterpret_borrow<py::object>(given);
  try {
    return torch::jit::toIValue(value, argument.real_type(), argument.N());
  } catch (const py::cast_error&) {
  } catch (const py::error_already_set&) {
  } catch (const c10::Error&) {
  }
  throw InvalidType(type_mismatch_message(engine.signature(), index, describe_python_value(given)));
}

}  // namespace

c10::IValue argument_from_python(const Engine& engine, size_t index, py::handle value) {
  return index < engine.signature().arguments.size() ? convert_argument(engine, index, value) : c10::IValue();
}

std::vector<c10::IValue> arguments_from_python(const Engine& engine, const py::args& args, const py::kwargs& kwargs) {
  const MethodSignature& signature = engine.signature();
  const size_t expected = signature.arguments.size();
  std::vector<c10::IValue> inputs;
  inputs.reserve(std::max(expected, args.size()));
  for (size_t i = 0; i < args.size(); ++i) inputs.push_back(argument_from_python(engine, i, args[i]));
  if (kwargs.empty()) return inputs;

  std::vector<std::optional<c10::IValue>> by_position(expected);
  for (const auto& [key, value] : kwargs) {
    const std::string name = py::str(key);
    size_t index = 0;
    while (index < expected && signature.arguments[index].name != name) ++index;
    if (index == expected) {
      std::string names;
      for (const auto& argument : signature.arguments) names += (names.empty() ? "" : ", ") + argument.name;
      throw InvalidType(signature.name + "() got an unexpected keyword argument '" + name + "' (arguments: " + names +
                        ")");
    }
    if (index < args.size()) {
      throw InvalidType(signature.name + "() got multiple values for argument '" + name + "'");
    }
    by_position[index] = convert_argument(engine, index, value);
  }
  // Keyword arguments may skip over defaulted ones: fill those gaps so the list stays positional.
  size_t last = expected;
  while (last > args.size() && !by_position[last - 1]) --last;
  const auto& schema_arguments = engine.schema().arguments();
  for (size_t i = args.size(); i < last; ++i) {
    if (by_position[i]) {
      inputs.push_back(std::move(*by_position[i]));
    } else if (schema_arguments[i + 1].default_value()) {
      inputs.push_back(*schema_arguments[i + 1].default_value());
    } else {
      throw InvalidType(signature.name + "() missing argument '" + signature.arguments[i].name + "' (position " +
                        std::to_string(i + 1) + ", " + signature.arguments[i].type + ")");
    }
  }
  return inputs;
}

py::object output_to_python(c10::IValue output) { return torch::jit::toPyObject(std::move(output)); }

}  // namespace tsnative::python
