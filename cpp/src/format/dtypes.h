// dtype names as tsnative.export records them in the metadata (NumPy style: "float32", "int64", "bool"...), apart
// from the metadata format so that its header needs no c10.
#pragma once

#include <c10/core/ScalarType.h>

#include <optional>
#include <string>

namespace tsnative {

// The recorded name of `type`; c10's name for a type the metadata has no name for.
std::string dtype_name(c10::ScalarType type);

// The type a recorded name stands for; nullopt for a name this build does not know.
std::optional<c10::ScalarType> dtype_from_name(const std::string& name);

}  // namespace tsnative
