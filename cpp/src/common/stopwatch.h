// Wall time since a point, the one clock every load phase and training epoch is timed with.
#pragma once

#include <chrono>

namespace tsnative::detail {

using SteadyClock = std::chrono::steady_clock;

inline double seconds_since(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

}  // namespace tsnative::detail
