// What a fusion trial's choice rests on (cpp/src/backends/torchscript/trial_runs.h): both candidates timed alike, calls
// copied.
#include "backends/torchscript/trial_runs.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace tsnative::detail {
namespace {

TEST(TrialRuns, BothCandidatesRunEquallyOftenAndAShortCallRepeatsWithinASample) {
  int first = 0;
  int second = 0;
  const auto timings = time_in_turns([&] { ++first; }, [&] { ++second; });
  EXPECT_EQ(first, second);
  // One run each to size the samples, then kTimedSamples samples of several runs: a call of nanoseconds is not
  // timed by a single clock reading.
  EXPECT_GT(first, 1 + 2 * kTimedSamples);
  EXPECT_GE(timings.first_ms, 0.0);
  EXPECT_GE(timings.second_ms, 0.0);
}

TEST(TrialRuns, AFailingCandidateStopsTheTiming) {
  int calls = 0;
  EXPECT_THROW(time_in_turns([&] { ++calls; }, [] { throw std::runtime_error("fused graph failed"); }),
               std::runtime_error);
  EXPECT_EQ(calls, 1);
}

TEST(TrialRuns, ACallsCopyHasTensorsOfItsOwn) {
  const std::vector<c10::IValue> call{at::zeros({2, 3}), c10::IValue(int64_t{4}),
                                      c10::ivalue::Tuple::create({at::ones({1})})};
  auto copy = copy_of(call);
  copy[0].toTensor().fill_(7);
  copy[2].toTupleRef().elements()[0].toTensor().fill_(7);
  EXPECT_EQ(call[0].toTensor().sum().item<double>(), 0.0);
  EXPECT_EQ(call[2].toTupleRef().elements()[0].toTensor().item<double>(), 1.0);
  EXPECT_EQ(copy[1].toInt(), 4);
}

}  // namespace
}  // namespace tsnative::detail
