// JSON from a file parsed with its nesting bounded. nlohmann's dump(), comparisons and every walk over a parsed
// document recurse once per level: a 400 KB text of 200,000 nested brackets overflowed the stack (a segfault where
// a one-line error belongs).
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace tsnative::detail {

// Deeper than any document tsnative writes (recorded inputs nest at most kMaxInputDepth, two levels each).
inline constexpr int kMaxJsonDepth = 100;

// `text` parsed; `too_deep()` (which must throw) when it nests more than kMaxJsonDepth levels, before the deeper
// levels are built. Parse errors are nlohmann's exceptions, as Json::parse throws them.
template <class Json, class TooDeep>
Json parse_bounded(const std::string& text, TooDeep too_deep) {
  return Json::parse(text, [&](int depth, typename Json::parse_event_t event, Json& /*parsed*/) {
    const bool opens = event == Json::parse_event_t::object_start || event == Json::parse_event_t::array_start;
    if (opens && depth >= kMaxJsonDepth) too_deep();
    return true;
  });
}

}  // namespace tsnative::detail
