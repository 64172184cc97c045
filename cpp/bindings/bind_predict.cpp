// Engine.predict and Engine.__call__ as CPython method descriptors (METH_FASTCALL) rather than pybind11 methods.
// Why, measured on a tiny module (Linear 4->4 + tanh, 2.3-2.6 us per call in a C++ loop): pybind11 wraps methods
// in instancemethod objects, which Python binds anew at every `engine.predict` (an allocation), and its general
// `*args, **kwargs` form builds an args tuple and a kwargs dict per call (two more, which Python's garbage
// collector also counts: its collections were 7% of the call's profile). A method descriptor is called with the
// arguments in place, as CPython's own methods are.
#include "bindings.h"
#include "python_values.h"
#include "tsnative/engine.h"

namespace py = pybind11;

namespace tsnative::python {
namespace {

constexpr const char* kPredictDoc = R"doc(predict(self, *args: typing.Any, **kwargs: typing.Any) -> typing.Any
Runs the method. Positional and keyword arguments follow :attr:`schema`.

Tensors and numpy arrays (also inside tuples, lists and dicts; numpy arrays share memory where torch can wrap
them), and int/float/bool/str/None. The GIL is released while the model runs.

Raises ``TypeError`` naming the expected and given types for a wrong argument count or type, and
:class:`tsnative.InferenceError` when the model itself fails. A failed call leaves the engine usable.)doc";

PyObject* predict(PyObject* self, PyObject* const* args, Py_ssize_t count, PyObject* keyword_names) {
  try {
    const Engine& engine = loaded_engine(py::handle(self));
    std::vector<c10::IValue> inputs = call_arguments(engine, args, count, keyword_names);
    c10::IValue output;
    {
      py::gil_scoped_release release;  // the forward runs without the GIL: other threads go on
      output = engine.run(std::move(inputs));
    }
    return output_to_python(std::move(output)).release().ptr();
  } catch (py::error_already_set& error) {
    error.restore();
  } catch (...) {
    py::detail::try_translate_exceptions();  // tsnative's translators (bind_errors.cpp), then pybind11's
  }
  return nullptr;
}

constexpr const char* kCallDoc = R"doc(__call__(self, *args: typing.Any, **kwargs: typing.Any) -> typing.Any
The same as :meth:`predict`.)doc";

// CPython keeps pointers to these for the life of the type.
PyMethodDef predict_definition{"predict", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&predict)),
                               METH_FASTCALL | METH_KEYWORDS, kPredictDoc};
PyMethodDef call_definition{"__call__", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&predict)),
                            METH_FASTCALL | METH_KEYWORDS, kCallDoc};

}  // namespace

void bind_predict(py::handle engine_class) {
  auto* type = reinterpret_cast<PyTypeObject*>(engine_class.ptr());
  for (PyMethodDef* definition : {&predict_definition, &call_definition}) {
    const auto descriptor = py::reinterpret_steal<py::object>(PyDescr_NewMethod(type, definition));
    if (!descriptor) throw py::error_already_set();
    engine_class.attr(definition->ml_name) = descriptor;
  }
}

}  // namespace tsnative::python
