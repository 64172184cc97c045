#include "format/report_json.h"

namespace tsnative::detail {
namespace {

template <class T>
nlohmann::json or_null(const std::optional<T>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json();
}

nlohmann::json batching_json(const BatchingReport& report) {
  return {{"enabled", report.enabled},
          {"max_batch", report.max_batch},
          {"delay_us", report.delay_us},
          {"calls", report.calls},
          {"unbatched_calls", report.unbatched_calls},
          {"batches", report.batches},
          {"rows", report.rows},
          {"padded_rows", report.padded_rows},
          {"largest_batch", report.largest_batch},
          {"retried_batches", report.retried_batches},
          {"queued", report.queued},
          {"disabled", or_null(report.disabled)}};
}

}  // namespace

nlohmann::json fusion_json(const FusionReport& report) {
  nlohmann::json trials = nlohmann::json::array();
  for (const auto& trial : report.trials) {
    trials.push_back({{"shape", trial.shape},
                      {"verified", trial.verified},
                      {"kept", trial.kept},
                      {"max_relative_diff", trial.max_relative_diff},
                      {"fused_ms", or_null(trial.fused_ms)},
                      {"unfused_ms", or_null(trial.unfused_ms)},
                      {"reason", trial.reason}});
  }
  return {{"mode", fusion_mode_name(report.mode)},
          {"tried", report.tried},
          {"skipped_reason", report.skipped_reason},
          {"trials", trials},
          {"disabled", or_null(report.disabled)}};
}

nlohmann::json load_report_json(const LoadReport& report) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& step : report.steps) {
    steps.push_back({{"name", step.name},
                     {"applied", step.applied},
                     {"shapes", step.shapes},
                     {"reason", step.reason},
                     {"note", step.note}});
  }
  return {{"backend", report.backend},
          {"device", report.device},
          {"precision", report.precision},
          {"frozen", report.frozen},
          {"parameter_count", report.parameter_count},
          {"steps", steps},
          {"fusion", fusion_json(report.fusion)},
          {"batching", batching_json(report.batching)},
          {"warnings", report.warnings},
          {"timings",
           {{"read_s", report.timings.read_s},
            {"deserialize_s", report.timings.deserialize_s},
            {"optimize_s", report.timings.optimize_s},
            {"prepare_s", report.timings.prepare_s},
            {"total_s", report.timings.total_s}}}};
}

}  // namespace tsnative::detail
