// The exact shapes, dtypes and devices of one call's tensor arguments: what per-shape executors and CUDA graphs
// are specialised for, and what a later call must match to use them.
#pragma once

#include <ATen/core/ivalue.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <optional>
#include <string>
#include <vector>

namespace tsnative::detail {

class CallShape {
 public:
  // nullopt when an argument is not a defined tensor (CUDA graphs and per-shape executors take tensors only).
  static std::optional<CallShape> of(const std::vector<c10::IValue>& call);
  // Also accepts None and plain scalars (int, float, bool, str), matched by kind, not value: a TorchScript
  // executor specialises on tensors' shapes, not on scalar values. nullopt for containers and other values.
  static std::optional<CallShape> of_arguments(const std::vector<c10::IValue>& call);

  // Whether `call` has exactly these arguments: same count, tensors of the same sizes, dtypes and devices, and
  // the same kinds of other values.
  bool matches(const std::vector<c10::IValue>& call) const;

  // "[1, 3, 224, 224], [1, 4]": for notes and messages.
  std::string text() const;

 public:
  enum class Kind { Tensor, None, Int, Double, Bool, String };

 private:
  // One argument: a tensor (kind Tensor), or the kind of a value that is not one.
  struct Argument {
    Kind kind = Kind::Tensor;
    std::vector<int64_t> sizes;
    at::ScalarType dtype = at::kFloat;
    c10::Device device = c10::kCPU;
  };
  static std::optional<Kind> scalar_kind(const c10::IValue& value);
  static std::optional<CallShape> build(const std::vector<c10::IValue>& call, bool scalars);
  std::vector<Argument> arguments_;
};

// `calls` without those whose tensors match an earlier call's (a shape declared twice); calls with arguments
// other than tensors are kept.
std::vector<std::vector<c10::IValue>> distinct_calls(std::vector<std::vector<c10::IValue>> calls);

}  // namespace tsnative::detail
