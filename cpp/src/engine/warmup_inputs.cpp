#include "engine/warmup_inputs.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/zeros.h>

#include "common/error_text.h"
#include "format/dtypes.h"
#include "tsnative/errors.h"

namespace tsnative::detail {

std::vector<std::vector<c10::IValue>> warmup_inputs(const CallShapes& shapes, const std::vector<InputSpec>& recorded,
                                                    c10::Device device) {
  std::vector<std::vector<c10::IValue>> calls;
  // A private generator with a fixed seed: the caller's random stream is left alone, and loads are reproducible.
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(/*seed_in=*/0);
  for (const auto& call : shapes) {
    if (!recorded.empty() && call.size() != recorded.size()) {
      throw InvalidValue("warmup_shapes: expected " + std::to_string(recorded.size()) +
                         " shape(s) per call, one per recorded input, got " + std::to_string(call.size()));
    }
    std::vector<c10::IValue> inputs;
    for (size_t i = 0; i < call.size(); ++i) {
      const auto dtype = i < recorded.size() ? dtype_from_name(recorded[i].dtype) : std::nullopt;
      for (const int64_t size : call[i]) {
        if (size < 0) {
          std::string given;
          for (const int64_t each : call[i]) given += (given.empty() ? "" : ", ") + std::to_string(each);
          throw InvalidValue("warmup_shapes: expected sizes >= 0, got [" + given + "]");
        }
      }
      const auto options = at::TensorOptions().dtype(dtype.value_or(at::kFloat));
      try {
        at::Tensor tensor = c10::isFloatingType(dtype.value_or(at::kFloat)) ? at::randn(call[i], generator, options)
                                                                            : at::zeros(call[i], options);
        inputs.emplace_back(tensor.to(device));
      } catch (const std::exception& e) {
        throw InvalidValue("warmup_shapes: cannot make an input of shape " + shape_text(call[i]) + " (" + cause_of(e) +
                           ")");
      }
    }
    calls.push_back(std::move(inputs));
  }
  return calls;
}

}  // namespace tsnative::detail
