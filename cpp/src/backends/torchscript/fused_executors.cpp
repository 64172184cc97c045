#include "backends/torchscript/fused_executors.h"

#include <algorithm>

#include "backends/torchscript/optimize.h"
#include "backends/torchscript/output_compare.h"
#include "backends/torchscript/trial_runs.h"
#include "common/error_text.h"
#include "tsnative/errors.h"

namespace tsnative::detail {

FusedExecutors::FusedExecutors(const torch::jit::Module& module, const torch::jit::Method& method, FusionMode mode,
                               double tolerance)
    : self_(module._ivalue()), graph_(method.graph()), mode_(mode), tolerance_(tolerance) {}

c10::IValue FusedExecutors::run_fused(const torch::jit::Function& function, std::vector<c10::IValue> inputs) const {
  const FusionScope fuse(true);
  torch::jit::Stack stack;
  stack.reserve(inputs.size() + 1);
  stack.push_back(self_);  // the method's graph takes the module as its first input
  stack.insert(stack.end(), std::make_move_iterator(inputs.begin()), std::make_move_iterator(inputs.end()));
  const_cast<torch::jit::Function&>(function).run(stack);
  return std::move(stack.back());
}

c10::IValue FusedExecutors::trial(const std::vector<c10::IValue>& call, const Runner& unfused) {
  std::optional<c10::IValue> output;
  {
    const std::lock_guard<std::mutex> one_trial(trial_mutex_);
    output = trial_locked(call, unfused, mode_ == FusionMode::kAuto);
  }
  return output ? std::move(*output) : unfused(call);
}

std::optional<c10::IValue> FusedExecutors::trial_locked(const std::vector<c10::IValue>& call, const Runner& unfused,
                                                        bool time_it) const {
  // Tried (and keyed) in a dense layout: an expanded or sliced call's copy, which later calls of its sizes in any
  // layout can be copied into (CallShape::conform).
  const std::vector<c10::IValue> laid_out = dense(call);
  auto shape = CallShape::of_arguments(laid_out);
  {
    const std::shared_lock lock(mutex_);
    // Another thread tried this shape while this one waited for its turn, or the cap is reached: not tried.
    if (tried_.size() >= kMaxShapes) return std::nullopt;
    for (const auto& seen : tried_) {
      if (shape && seen.fits(call)) return std::nullopt;
    }
  }
  c10::IValue reference = unfused(copy_of(laid_out));
  FusionTrial trial;
  if (!shape) {
    // Containers as arguments: no key to specialise an executor on (run() sends such calls unfused).
    trial.shape = "(arguments other than tensors and scalars)";
    trial.reason = "the method takes arguments other than tensors and plain scalars";
    const std::unique_lock lock(mutex_);
    trials_.push_back(std::move(trial));
    return reference;
  }
  trial.shape = shape->text();
  const std::string name = "fused_shape" + std::to_string(tried_.size());
  torch::jit::Function* function = unit_.create_function(name, graph_->copy());
  int call_number = 0;
  try {
    for (call_number = 1; call_number <= kTrialCalls; ++call_number) {
      const auto agreement = compare_outputs(run_fused(*function, copy_of(laid_out)), reference, tolerance_);
      trial.max_relative_diff = std::max(trial.max_relative_diff, agreement.max_relative_diff);
      if (agreement.problem) {
        trial.reason =
            "fused call " + std::to_string(call_number) + " differs from the unfused graph: " + *agreement.problem;
        break;
      }
    }
  } catch (const std::exception& e) {
    trial.reason = "fused call " + std::to_string(call_number) + " failed: " + cause_of(e);
  }
  trial.verified = trial.reason.empty();
  trial.kept = trial.verified;
  if (trial.verified && time_it) {
    try {
      const auto timings = time_in_turns([&] { unfused(laid_out); }, [&] { run_fused(*function, laid_out); });
      trial.unfused_ms = timings.first_ms;
      trial.fused_ms = timings.second_ms;
      trial.kept = *trial.fused_ms < *trial.unfused_ms;
      if (!trial.kept) trial.reason = "slower than the unfused graph";
    } catch (const std::exception& e) {
      trial.verified = trial.kept = false;
      trial.reason = "fused call failed while timed: " + cause_of(e);
    }
  }
  const std::unique_lock lock(mutex_);
  tried_.push_back(*shape);
  if (trial.kept) executors_.push_back({std::move(*shape), function});
  trials_.push_back(std::move(trial));
  return reference;
}

c10::IValue FusedExecutors::run(std::vector<c10::IValue> inputs, const Runner& unfused) const {
  if (disabled_.load(std::memory_order_acquire)) return unfused(std::move(inputs));
  const torch::jit::Function* function = nullptr;
  bool try_now = false;
  {
    const std::shared_lock lock(mutex_);
    for (const auto& executor : executors_) {
      if (executor.shape.fits(inputs)) {
        executor.shape.conform(inputs);  // the fused kernels read the layout they were verified for
        function = executor.function;
        break;
      }
    }
    if (!function && mode_ == FusionMode::kOn && tried_.size() < kMaxShapes) {
      try_now = std::none_of(tried_.begin(), tried_.end(), [&](const CallShape& shape) { return shape.fits(inputs); });
    }
  }
  // "on": a call shape seen for the first time is tried now, and its unfused output answers this call. Calls with
  // container arguments have no shape to key an executor on: never tried.
  if (try_now && CallShape::of_arguments(inputs)) {
    std::optional<c10::IValue> output;
    {
      const std::lock_guard<std::mutex> one_trial(trial_mutex_);
      output = trial_locked(inputs, unfused, false);
    }
    if (output) return std::move(*output);
    return run(std::move(inputs), unfused);  // tried meanwhile by another thread, or the cap was reached
  }
  if (!function) return unfused(std::move(inputs));
  try {
    return run_fused(*function, inputs);
  } catch (const std::exception& e) {
    // The unfused graph decides: if it fails too, the model itself refused these inputs and fusion stays on.
    c10::IValue output = unfused(std::move(inputs));
    const std::unique_lock lock(mutex_);
    if (!disabled_.load()) {
      disabled_reason_ = "a fused graph failed while running (" + cause_of(e) + "); running unfused from then on";
      disabled_.store(true, std::memory_order_release);
    }
    return output;
  }
}

std::vector<FusionTrial> FusedExecutors::trials() const {
  const std::shared_lock lock(mutex_);
  return trials_;
}

std::optional<std::string> FusedExecutors::disabled_reason() const {
  const std::shared_lock lock(mutex_);
  return disabled_reason_;
}

size_t FusedExecutors::kept() const {
  const std::shared_lock lock(mutex_);
  return disabled_ ? 0 : executors_.size();
}

}  // namespace tsnative::detail
