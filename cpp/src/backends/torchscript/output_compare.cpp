#include "backends/torchscript/output_compare.h"

#include <ATen/ops/equal.h>

#include <algorithm>
#include <vector>

#include "tsnative/metadata.h"

namespace tsnative::detail {
namespace {

void flatten(const c10::IValue& value, std::vector<c10::IValue>& leaves) {
  if (value.isTuple()) {
    for (const auto& element : value.toTupleRef().elements()) flatten(element, leaves);
  } else if (value.isList()) {
    for (const auto& element : value.toList()) flatten(element, leaves);
  } else if (value.isGenericDict()) {
    for (const auto& entry : value.toGenericDict()) {
      leaves.push_back(entry.key());
      flatten(entry.value(), leaves);
    }
  } else {
    leaves.push_back(value);
  }
}

std::optional<std::string> compare_tensors(const at::Tensor& got, const at::Tensor& want, double tolerance,
                                           double& worst) {
  if (got.defined() != want.defined()) return std::string("a tensor is undefined in one output only");
  if (!want.defined()) return std::nullopt;
  if (got.scalar_type() != want.scalar_type() || got.sizes() != want.sizes()) {
    return "expected " + std::string(c10::toString(want.scalar_type())) + " " + shape_text(want.sizes().vec()) +
           ", got " + c10::toString(got.scalar_type()) + " " + shape_text(got.sizes().vec());
  }
  const at::Tensor g = got.cpu();
  const at::Tensor w = want.cpu();
  if (!want.is_floating_point()) {
    if (!at::equal(g, w)) return std::string("non-floating-point values differ");
    return std::nullopt;
  }
  if (want.numel() == 0) return std::nullopt;
  const at::Tensor g64 = g.to(at::kDouble);
  const at::Tensor w64 = w.to(at::kDouble);
  const at::Tensor finite = w64.isfinite();
  // NaN and infinities must stand where the reference has them, and only there.
  const at::Tensor same_special = g64.eq(w64).logical_or(g64.isnan().logical_and(w64.isnan()));
  const bool special_differs = finite.logical_not().logical_and(same_special.logical_not()).any().item<bool>() ||
                               finite.logical_and(g64.isfinite().logical_not()).any().item<bool>();
  if (special_differs) return std::string("NaN or infinity where the other output has none");
  const at::Tensor not_finite = finite.logical_not();
  const at::Tensor w_finite = w64.masked_fill(not_finite, 0.0);
  const double scale = std::max(w_finite.abs().max().item<double>(), 1e-30);
  const double diff = g64.masked_fill(not_finite, 0.0).sub(w_finite).abs().max().item<double>();
  worst = std::max(worst, diff / scale);
  if (diff > tolerance * scale + 1e-30) {
    return "values differ by " + std::to_string(diff) + " at scale " + std::to_string(scale);
  }
  return std::nullopt;
}

}  // namespace

OutputAgreement compare_outputs(const c10::IValue& got, const c10::IValue& want, double tolerance) {
  OutputAgreement agreement;
  std::vector<c10::IValue> got_leaves;
  std::vector<c10::IValue> want_leaves;
  flatten(got, got_leaves);
  flatten(want, want_leaves);
  if (got_leaves.size() != want_leaves.size()) {
    agreement.problem = "output structure differs (" + std::to_string(got_leaves.size()) + " vs " +
                        std::to_string(want_leaves.size()) + " values)";
    return agreement;
  }
  for (size_t i = 0; i < want_leaves.size() && !agreement.problem; ++i) {
    const auto& g = got_leaves[i];
    const auto& w = want_leaves[i];
    if (w.isTensor() != g.isTensor()) {
      agreement.problem = "output structure differs (value " + std::to_string(i) + ")";
    } else if (w.isTensor()) {
      agreement.problem = compare_tensors(g.toTensor(), w.toTensor(), tolerance, agreement.max_relative_diff);
      if (agreement.problem) *agreement.problem = "output value " + std::to_string(i) + ": " + *agreement.problem;
    } else if (!(g == w)) {
      agreement.problem = "output value " + std::to_string(i) + " differs";
    }
  }
  return agreement;
}

}  // namespace tsnative::detail
