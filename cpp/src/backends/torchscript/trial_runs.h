// What choosing between two ways of running a call needs (FusedExecutors): a call's own copy of its tensors, and
// timings of both taken in turns.
#pragma once

#include <ATen/core/ivalue.h>

#include <functional>
#include <vector>

namespace tsnative::detail {

// A call's own copy: a candidate must not see (or change) tensors another one runs on.
std::vector<c10::IValue> copy_of(const std::vector<c10::IValue>& call);

struct TimingsInTurns {
  double first_ms = 0.0;  // median per run
  double second_ms = 0.0;
};

// Median milliseconds per run of `first` and `second`, sampled in turns so that a change in the machine's load
// hits both. Each sample repeats its candidate enough times to last about kSampleMs: a call of microseconds is
// then timed over many runs, not one clock reading. Exceptions from either propagate.
TimingsInTurns time_in_turns(const std::function<void()>& first, const std::function<void()>& second);

// Enough samples to tell a clear winner, few enough for a model's load.
constexpr int kTimedSamples = 5;
constexpr double kSampleMs = 0.5;

}  // namespace tsnative::detail
