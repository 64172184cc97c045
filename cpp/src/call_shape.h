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
  // nullopt when an argument is not a defined tensor (specialising on other values is not supported).
  static std::optional<CallShape> of(const std::vector<c10::IValue>& call);

  // Whether `call` has exactly these tensors: same count, sizes, dtypes and devices.
  bool matches(const std::vector<c10::IValue>& call) const;

  // "[1, 3, 224, 224], [1, 4]": for notes and messages.
  std::string text() const;

 private:
  struct Tensor {
    std::vector<int64_t> sizes;
    at::ScalarType dtype;
    c10::Device device;
  };
  std::vector<Tensor> tensors_;
};

// `calls` without those whose tensors match an earlier call's (a shape declared twice); calls with arguments
// other than tensors are kept.
std::vector<std::vector<c10::IValue>> distinct_calls(std::vector<std::vector<c10::IValue>> calls);

}  // namespace tsnative::detail
