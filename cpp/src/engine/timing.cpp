#include "tsnative/timing.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "tsnative/errors.h"

namespace tsnative {
namespace {

double nearest_rank(const std::vector<double>& sorted, double percentile) {
  const auto rank = static_cast<size_t>(std::ceil(percentile / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

}  // namespace

LatencyStats time_engine(const Engine& engine, const std::vector<c10::IValue>& inputs, const TimingOptions& options) {
  if (options.iterations < 1 || options.warmup < 0 || options.batch_size < 1) {
    throw InvalidValue("timing: expected iterations >= 1, warmup >= 0 and batch_size >= 1, got " +
                       std::to_string(options.iterations) + ", " + std::to_string(options.warmup) + " and " +
                       std::to_string(options.batch_size));
  }
  // Kernels are queued asynchronously on CUDA: wait for them, or the clock measures only the launch.
  const auto timed_run = [&] {
    engine.synchronize();
    const auto start = std::chrono::steady_clock::now();
    engine.run(inputs);
    engine.synchronize();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  };

  LatencyStats stats;
  stats.first_ms = timed_run();
  for (int i = 0; i < options.warmup; ++i) engine.run(inputs);
  stats.samples_ms.reserve(options.iterations);
  for (int i = 0; i < options.iterations; ++i) stats.samples_ms.push_back(timed_run());

  std::vector<double> sorted = stats.samples_ms;
  std::sort(sorted.begin(), sorted.end());
  const double total_ms = std::accumulate(sorted.begin(), sorted.end(), 0.0);
  stats.min_ms = sorted.front();
  stats.max_ms = sorted.back();
  stats.p50_ms = nearest_rank(sorted, 50);
  stats.p90_ms = nearest_rank(sorted, 90);
  stats.p99_ms = nearest_rank(sorted, 99);
  stats.mean_ms = total_ms / static_cast<double>(sorted.size());
  stats.throughput_per_s = static_cast<double>(options.batch_size * options.iterations) / (total_ms / 1000.0);
  return stats;
}

}  // namespace tsnative
