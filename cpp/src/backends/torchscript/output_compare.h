// Whether two outputs of one model agree: how an optimised graph (oneDNN fusion) is checked against the plain one
// before the engine keeps it.
#pragma once

#include <ATen/core/ivalue.h>

#include <optional>
#include <string>

namespace tsnative::detail {

struct OutputAgreement {
  // Why they disagree (structure, dtype, shape, values beyond tolerance); nullopt when they agree.
  std::optional<std::string> problem;
  // Over floating-point tensors: the largest |got - want| relative to the scale of its tensor (max |want|).
  double max_relative_diff = 0.0;
};

// Compares `got` with `want` leaf by leaf (tuples, lists and dicts walked): same structure; floating-point tensors
// within `tolerance` of each tensor's scale (|got - want| <= tolerance * max|want|, NaN and infinities where
// `want` has them); other tensors and values equal.
OutputAgreement compare_outputs(const c10::IValue& got, const c10::IValue& want, double tolerance);

}  // namespace tsnative::detail
