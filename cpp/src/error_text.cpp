#include "error_text.h"

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

}  // namespace tsnative::detail
