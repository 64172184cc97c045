// The load report as JSON: the one serialiser of LoadReport, for Engine.load_report in Python (the binding hands
// Python this text's objects) and ts-infer --json, so both say the same facts under the same keys.
#pragma once

#include <nlohmann/json.hpp>

#include "tsnative/load_report.h"

namespace tsnative::detail {

// {backend, device, precision, frozen, parameter_count, steps: [{name, applied, shapes, reason, note}], fusion,
// batching: {...}, warnings, timings: {read_s, deserialize_s, optimize_s, prepare_s, total_s}}.
nlohmann::json load_report_json(const LoadReport& report);

// {mode, tried, skipped_reason, trials: [{shape, verified, kept, max_relative_diff, fused_ms, unfused_ms, reason}],
// disabled}: the report's "fusion".
nlohmann::json fusion_json(const FusionReport& report);

}  // namespace tsnative::detail
