// Timing an Engine inside C++: the routine behind `ts-infer --iters` and the benchmarks' native C++ loop.
#pragma once

#include <ATen/core/ivalue.h>

#include <cstdint>
#include <vector>

#include "tsnative/engine.h"

namespace tsnative {

struct TimingOptions {
  int warmup = 10;         // untimed runs after the first one
  int iterations = 100;    // timed runs
  int64_t batch_size = 1;  // items per run, for the throughput
};

struct LatencyStats {
  double first_ms = 0;  // the very first run: includes the profiling executor's optimisation of the graph
  double min_ms = 0, p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0, mean_ms = 0;
  double throughput_per_s = 0;     // batch_size * iterations / total timed seconds
  std::vector<double> samples_ms;  // every timed run, in order
};

// Runs `inputs` once (first_ms), `warmup` times untimed, then `iterations` times timed, one clock reading per run.
// On CUDA the device is synchronised before each clock reading. Percentiles use the nearest-rank method.
LatencyStats time_engine(const Engine& engine, const std::vector<c10::IValue>& inputs, const TimingOptions& options);

}  // namespace tsnative
