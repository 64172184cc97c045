// The exact shapes, strides, dtypes and devices of one call's tensor arguments: what per-shape executors, fused
// executors and CUDA graphs are specialised for, and what a later call must match to use them. Sizes alone are not
// enough: oneDNN Graph's fused kernels read an input by the strides they were compiled for (LibTorch's guard checks
// sizes only), so a Fortran-ordered or transposed input of the verified sizes gave wrong results. A call of the
// same sizes in another layout is first copied into the recorded one (conform()).
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

  // Whether `call` has exactly these arguments: same count, tensors of the same sizes, strides, dtypes and
  // devices, and the same kinds of other values.
  bool matches(const std::vector<c10::IValue>& call) const;
  // matches() but for the strides: `call` can be brought to this shape by conform().
  bool fits(const std::vector<c10::IValue>& call) const;
  // `call` (which fits()) with each tensor whose strides differ from the recorded ones replaced by a copy in the
  // recorded layout; afterwards matches(call). The recorded strides are those of a dense tensor (see dense()).
  void conform(std::vector<c10::IValue>& call) const;

  // "[1, 3, 224, 224], [1, 4]": for notes and messages.
  std::string text() const;

 public:
  enum class Kind { Tensor, None, Int, Double, Bool, String };

 private:
  // One argument: a tensor (kind Tensor), or the kind of a value that is not one.
  struct Argument {
    Kind kind = Kind::Tensor;
    std::vector<int64_t> sizes;
    std::vector<int64_t> strides;
    at::ScalarType dtype = at::kFloat;
    c10::Device device = c10::kCPU;
  };
  static std::optional<Kind> scalar_kind(const c10::IValue& value);
  static std::optional<CallShape> build(const std::vector<c10::IValue>& call, bool scalars);
  bool same(const std::vector<c10::IValue>& call, bool strides) const;
  std::vector<Argument> arguments_;
};

// `call` with each tensor whose elements overlap or leave gaps in memory (expanded, sliced) replaced by a
// contiguous copy, the others as they are: a layout conform() can copy later calls into.
std::vector<c10::IValue> dense(const std::vector<c10::IValue>& call);

// `calls` without those whose tensors match an earlier call's (a shape declared twice); calls with arguments
// other than tensors are kept.
std::vector<std::vector<c10::IValue>> distinct_calls(std::vector<std::vector<c10::IValue>> calls);

}  // namespace tsnative::detail
