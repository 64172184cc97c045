// An options struct declared once in C++ (its static describe(), see tsnative/engine_options.h) bound to Python
// as a class: one read-write attribute per option, a keyword constructor that refuses unknown names and wrong
// types in one line, to_dict(), and fields() for generated documentation. Nothing here names an option.
#pragma once

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "tsnative/engine_options.h"
#include "tsnative/errors.h"

namespace tsnative::python {

// How each C++ option type is named to Python users, and read from a Python value (nullopt: the wrong type).
template <class T>
struct OptionType;

template <>
struct OptionType<bool> {
  static constexpr const char* name = "bool";
  static std::optional<bool> load(pybind11::handle value) {
    // True and False only (and numpy's bool, which pybind11's caster knows without conversion): an int or a
    // string where a switch is meant is a mistake.
    pybind11::detail::make_caster<bool> caster;
    if (!caster.load(value, /*convert=*/false)) return std::nullopt;
    return pybind11::detail::cast_op<bool>(caster);
  }
};

template <>
struct OptionType<std::string> {
  static constexpr const char* name = "str";
  static std::optional<std::string> load(pybind11::handle value) {
    if (!PyUnicode_Check(value.ptr())) return std::nullopt;
    return value.cast<std::string>();
  }
};

template <class T>
  requires std::is_arithmetic_v<T>
struct OptionType<T> {
  static constexpr const char* name = std::is_floating_point_v<T> ? "float" : "int";
  static std::optional<T> load(pybind11::handle value) {
    if (PyBool_Check(value.ptr())) return std::nullopt;
    const bool number =
        std::is_floating_point_v<T> ? PyNumber_Check(value.ptr()) != 0 : PyIndex_Check(value.ptr()) != 0;
    if (!number) return std::nullopt;
    try {
      return value.cast<T>();
    } catch (const pybind11::cast_error&) {
      throw InvalidValue(std::string("expected ") + name + " in range, got " +
                         pybind11::repr(value).cast<std::string>());
    }
  }
};

template <class T>
struct OptionType<std::optional<T>> {
  static std::string type_name() { return std::string(OptionType<T>::name) + " or None"; }
  static constexpr const char* name = "optional";
  static std::optional<std::optional<T>> load(pybind11::handle value) {
    if (value.is_none()) return std::optional<T>();
    if (auto loaded = OptionType<T>::load(value)) return std::optional<T>(std::move(*loaded));
    return std::nullopt;
  }
};

// Shapes of calls: a list of calls, each a list of shapes (one per tensor argument); a bare shape (ints) for a
// call is the shape of its single tensor argument: [(1, 3, 224, 224), (8, 3, 224, 224)].
template <>
struct OptionType<CallShapes> {
  static constexpr const char* name = "list of shapes";
  static std::optional<CallShapes> load(pybind11::handle value);
};

template <class T>
std::string option_type_name() {
  if constexpr (requires { OptionType<T>::type_name(); }) {
    return OptionType<T>::type_name();
  } else {
    return OptionType<T>::name;
  }
}

// Whether `value` respects the declared minimum of a number option (other types have none).
template <class T>
bool within_minimum(const T& value, const OptionInfo& info) {
  if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
    const auto number = static_cast<double>(value);
    return info.above ? number > info.minimum : number >= info.minimum;
  } else if constexpr (requires { value.has_value(); }) {
    return !value.has_value() || within_minimum(*value, info);
  } else {
    return true;
  }
}

// Sets `options.*member` from `value`; throws InvalidType "<owner>: option 'name' expected T, got U", or
// InvalidValue for a number below the declared minimum.
template <class Options, class T>
void set_option(Options& options, T Options::* member, const char* owner, const OptionInfo& info,
                pybind11::handle value) {
  const char* name = info.name;
  std::optional<T> loaded;
  try {
    loaded = OptionType<T>::load(value);
  } catch (const InvalidValue& e) {
    throw InvalidValue(std::string(owner) + ": option '" + name + "' " + e.what());
  } catch (const InvalidType& e) {
    throw InvalidType(std::string(owner) + ": option '" + name + "' " + e.what());
  }
  if (!loaded) {
    const std::string given =
        value.is_none() ? "None" : pybind11::str(pybind11::type::handle_of(value).attr("__name__"));
    throw InvalidType(std::string(owner) + ": option '" + name + "' expected " + option_type_name<T>() + ", got " +
                      given);
  }
  if (!within_minimum(*loaded, info)) {
    std::ostringstream bound;
    bound << (info.above ? "> " : ">= ") << info.minimum;
    throw InvalidValue(std::string(owner) + ": option '" + name + "' expected a number " + bound.str() + ", got " +
                       std::string(pybind11::repr(value)));
  }
  options.*member = std::move(*loaded);
}

// Binds Options (with a static describe(visitor)) as `name`; `owner` names the caller in errors ("Engine()").
template <class Options>
pybind11::class_<Options> bind_options(pybind11::module_& module, const char* name, const char* doc,
                                       const char* owner) {
  namespace py = pybind11;
  py::class_<Options> cls(module, name, doc);
  cls.def(py::init([owner](const py::kwargs& kwargs) {
            Options options;
            for (const auto& [key, value] : kwargs) {
              const std::string given = py::str(key);
              bool known = false;
              Options::describe([&](const OptionInfo& info, auto member) {
                if (given != info.name) return;
                known = true;
                set_option(options, member, owner, info, value);
              });
              if (!known) {
                std::string names;
                Options::describe([&](const OptionInfo& info, auto) {
                  names += (names.empty() ? "" : ", ") + std::string(info.name);
                });
                throw InvalidType(std::string(owner) + " got an unexpected option '" + given + "' (options: " + names +
                                  ")");
              }
            }
            return options;
          }),
          "Options by keyword; unknown names and wrong types are refused.");
  Options::describe([&](const OptionInfo& info, auto member) {
    cls.def_property(
        info.name, [member](const Options& options) { return options.*member; },
        [member, owner, info](Options& options, py::handle value) { set_option(options, member, owner, info, value); },
        info.help);
  });
  cls.def(
      "to_dict",
      [](const Options& options) {
        py::dict out;
        Options::describe([&](const OptionInfo& info, auto member) { out[info.name] = py::cast(options.*member); });
        return out;
      },
      "Every option's value, by name (the JSON settings).");
  cls.def_static(
      "fields",
      [] {
        py::list out;
        const Options defaults;
        Options::describe([&](const OptionInfo& info, auto member) {
          using T = std::remove_cvref_t<decltype(defaults.*member)>;
          out.append(py::make_tuple(info.name, option_type_name<T>(), py::cast(defaults.*member), info.help));
        });
        return out;
      },
      "(name, type, default, help) of each option, in declaration order.");
  cls.def("__repr__", [name](const Options& options) {
    std::string text = std::string(name) + "(";
    bool first = true;
    Options::describe([&](const OptionInfo& info, auto member) {
      const py::object value = py::cast(options.*member);
      text += (first ? "" : ", ") + std::string(info.name) + "=" + std::string(py::repr(value));
      first = false;
    });
    return text + ")";
  });
  return cls;
}

}  // namespace tsnative::python
