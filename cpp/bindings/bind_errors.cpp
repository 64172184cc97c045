// Maps each tsnative C++ error to its Python exception. The Python classes live in python/tsnative/errors.py
// (docstrings, attributes); they are looked up only when an error is actually raised.
#include <cerrno>
#include <cstring>

#include "bindings.h"
#include "common/error_text.h"
#include "tsnative/errors.h"

namespace py = pybind11;

namespace tsnative::python {
namespace {

void raise_tsnative(const char* class_name, const std::exception& error, py::dict attributes = {}) {
  py::object cls = py::module_::import("tsnative.errors").attr(class_name);
  py::object exception = cls(error.what());
  for (const auto& item : attributes) exception.attr(item.first) = item.second;
  PyErr_SetObject(cls.ptr(), exception.ptr());
}

void raise_libtorch(const c10::Error& error) {
  const std::string line = detail::cause_line(detail::message_of(error));
  PyObject* type = dynamic_cast<const c10::OutOfMemoryError*>(&error)      ? PyExc_MemoryError
                   : dynamic_cast<const c10::IndexError*>(&error)          ? PyExc_IndexError
                   : dynamic_cast<const c10::TypeError*>(&error)           ? PyExc_TypeError
                   : dynamic_cast<const c10::ValueError*>(&error)          ? PyExc_ValueError
                   : dynamic_cast<const c10::NotImplementedError*>(&error) ? PyExc_NotImplementedError
                                                                           : nullptr;
  if (type != nullptr) {
    PyErr_SetString(type, line.c_str());
  } else {
    raise_tsnative("TsnativeError", std::runtime_error(line));
  }
}

}  // namespace

void bind_errors(py::module_& /*module*/) {
  py::register_exception_translator([](std::exception_ptr pointer) {
    try {
      if (pointer) std::rethrow_exception(pointer);
    } catch (const FileNotFound& e) {
      // The same shape as open()'s error: errno, strerror and the filename.
      py::object args = py::make_tuple(ENOENT, std::strerror(ENOENT), e.path());
      PyErr_SetObject(PyExc_FileNotFoundError, args.ptr());
    } catch (const ModelLoadError& e) {
      py::dict attributes;
      attributes["path"] = e.path();
      attributes["reason"] = e.reason();
      raise_tsnative("ModelLoadError", e, attributes);
    } catch (const DataError& e) {
      py::dict attributes;
      attributes["path"] = e.path();
      attributes["line"] = e.line();
      attributes["reason"] = e.reason();
      raise_tsnative("DataError", e, attributes);
    } catch (const InvalidType& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    } catch (const InvalidValue& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const DeviceUnavailable& e) {
      raise_tsnative("DeviceUnavailableError", e);
    } catch (const InferenceError& e) {
      py::dict attributes;
      attributes["detail"] = e.detail();
      raise_tsnative("InferenceError", e, attributes);
    } catch (const Error& e) {
      raise_tsnative("TsnativeError", e);
    } catch (const c10::Error& e) {
      // Anything LibTorch raised that the core did not translate (a conversion in the binding): one line, no C++
      // backtrace, as the Python class its type maps to (torch's own mapping), else TsnativeError.
      raise_libtorch(e);
    }
  });
}

}  // namespace tsnative::python
