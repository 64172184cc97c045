// Turning LibTorch's exceptions into text fit for a person.
#pragma once

#include <c10/util/Exception.h>

#include <string>

namespace tsnative::detail {

// The message without LibTorch's C++ backtrace, trailing whitespace trimmed.
std::string message_of(const c10::Error& error);

// The first non-empty line of a message.
std::string first_line(const std::string& text);

// The last non-empty line: where a TorchScript interpreter error (a traceback) says what actually failed.
std::string last_line(const std::string& text);

}  // namespace tsnative::detail
