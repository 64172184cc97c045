#include "backends/torchscript/trial_runs.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "common/ivalue_tensors.h"

namespace tsnative::detail {
namespace {

double ms_for(const std::function<void()>& run, int repeats) {
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < repeats; ++i) run();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

double median(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

}  // namespace

std::vector<c10::IValue> copy_of(const std::vector<c10::IValue>& call) {
  std::vector<c10::IValue> copy;
  copy.reserve(call.size());
  for (const auto& value : call) copy.push_back(map_tensors(value, [](const at::Tensor& t) { return t.clone(); }));
  return copy;
}

TimingsInTurns time_in_turns(const std::function<void()>& first, const std::function<void()>& second) {
  // One run of each sets the repeat count (the slower one's time decides, so neither sample is shorter).
  const double first_once = ms_for(first, 1);
  const double once = std::max(first_once, ms_for(second, 1));
  constexpr int kMaxRepeats = 10'000;
  const int repeats =
      once <= 0.0 ? kMaxRepeats : static_cast<int>(std::clamp(std::ceil(kSampleMs / once), 1.0, double{kMaxRepeats}));
  std::vector<double> firsts;
  std::vector<double> seconds;
  for (int i = 0; i < kTimedSamples; ++i) {
    firsts.push_back(ms_for(first, repeats) / repeats);
    seconds.push_back(ms_for(second, repeats) / repeats);
  }
  return {median(std::move(firsts)), median(std::move(seconds))};
}

}  // namespace tsnative::detail
