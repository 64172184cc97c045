// Parsing and checking the device a user asks for.
#pragma once

#include <c10/core/Device.h>

#include <string>

namespace tsnative::detail {

// "cpu" -> cpu; "cuda" -> cuda:0; "cuda:N" -> cuda:N. Throws InvalidValue for a malformed or unsupported string
// and DeviceUnavailable when CUDA (or that index) cannot be used on this machine.
c10::Device resolve_device(const std::string& spec);

}  // namespace tsnative::detail
