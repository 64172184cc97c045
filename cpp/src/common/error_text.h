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

// One line that says what failed, for an error message: the raised error's line of a TorchScript interpreter
// traceback, else the first line with words in it (LibTorch's "Schema not found" errors end in graph dumps and
// lone punctuation); shortened to at most 300 characters.
std::string cause_line(const std::string& text);

// cause_line of any exception: of a LibTorch error's message without its C++ backtrace.
std::string cause_of(const std::exception& error);

}  // namespace tsnative::detail
