#include "common/error_text.h"

#include "tsnative/errors.h"

#include <algorithm>
#include <cctype>
#include <sstream>

namespace tsnative::detail {

std::string message_of(const c10::Error& error) {
  std::string text = error.what_without_backtrace();
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return text;
}

std::string first_line(const std::string& text) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find_first_not_of(" \t\r") != std::string::npos) return line;
  }
  return text;
}

std::string last_line(const std::string& text) {
  std::istringstream lines(text);
  std::string line;
  std::string last = text;
  while (std::getline(lines, line)) {
    if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
  }
  return last;
}

std::string cause_line(const std::string& text) {
  constexpr size_t kMaxLength = 300;
  const bool traceback =
      text.find("The following operation failed in the TorchScript interpreter") != std::string::npos;
  std::string line;
  if (traceback) {
    line = last_line(text);
  } else {
    std::istringstream lines(text);
    std::string candidate;
    while (std::getline(lines, candidate)) {
      const bool has_words =
          std::any_of(candidate.begin(), candidate.end(), [](unsigned char c) { return std::isalnum(c) != 0; });
      if (has_words) {
        line = candidate;
        break;
      }
    }
    if (line.empty()) line = first_line(text);
  }
  const auto start = line.find_first_not_of(" \t\r");
  line = start == std::string::npos ? std::string() : line.substr(start);
  if (line.size() > kMaxLength) line = line.substr(0, kMaxLength - 3) + "...";
  return line;
}

std::string cause_of(const std::exception& error) {
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&error)) return cause_line(message_of(*c10_error));
  return cause_line(error.what());
}

}  // namespace tsnative::detail

namespace tsnative {

std::string error_line(const std::exception& error) {
  if (dynamic_cast<const Error*>(&error) != nullptr) return error.what();
  return detail::cause_of(error);
}

}  // namespace tsnative
