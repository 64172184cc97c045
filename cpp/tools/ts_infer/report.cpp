#include "report.h"

#include <ATen/ops/softmax.h>
#include <ATen/ops/topk.h>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "format/dtypes.h"
#include "format/options_json.h"
#include "format/report_json.h"
#include "tsnative/metadata.h"

namespace tsnative::ts_infer {
namespace {

std::string format(const char* pattern, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, pattern, value);
  return buffer;
}

}  // namespace

std::vector<std::vector<ClassScore>> top_classes(const at::Tensor& output, int64_t k) {
  if (!output.defined() || !output.is_floating_point() || output.dim() < 1 || output.dim() > 2) return {};
  const at::Tensor rows = output.dim() == 1 ? output.unsqueeze(0) : output;
  if (rows.size(1) < 2) return {};
  const auto [values, indices] = at::softmax(rows.to(at::kDouble), 1).topk(std::min<int64_t>(k, rows.size(1)), 1);
  std::vector<std::vector<ClassScore>> result(rows.size(0));
  for (int64_t row = 0; row < rows.size(0); ++row) {
    for (int64_t j = 0; j < values.size(1); ++j) {
      result[row].push_back({indices[row][j].item<int64_t>(), values[row][j].item<double>()});
    }
  }
  return result;
}

void print_text(const RunReport& report) {
  const Engine& engine = report.engine;
  std::cout << "Model loaded: " << engine.path() << " on " << engine.device().str() << " in "
            << format("%.1f", engine.load_seconds() * 1e3) << " ms";
  std::string applied;
  for (const auto& name : engine.optimizations()) applied += (applied.empty() ? "" : ", ") + name;
  std::cout << " (optimisations: " << (applied.empty() ? "none" : applied) << ")\n";
  for (const auto& input : report.inputs) {
    std::cout << "Input " << input.name << ": " << dtype_name(input.tensor.scalar_type()) << " "
              << shape_text(input.tensor.sizes().vec()) << " (" << input.source << ")\n";
  }
  std::cout << "Output: " << dtype_name(report.output.scalar_type()) << " " << shape_text(report.output.sizes().vec())
            << "\n";
  if (!report.topk.empty()) {
    std::cout << "Top-" << report.topk.front().size() << " classes (softmax probability):\n";
    for (size_t row = 0; row < report.topk.size(); ++row) {
      std::cout << "  [" << row << "]";
      for (const auto& score : report.topk[row]) {
        std::cout << "  " << score.index << " (" << format("%.4f", score.probability) << ")";
      }
      std::cout << "\n";
    }
  }
  if (report.timing) {
    const LatencyStats& t = *report.timing;
    std::cout << "Timing (" << engine.device().str() << ", " << report.threads << " threads, warmup " << report.warmup
              << ", " << t.samples_ms.size() << " iterations):\n"
              << "  load             " << format("%8.2f", engine.load_seconds() * 1e3) << " ms\n"
              << "  first inference  " << format("%8.2f", t.first_ms) << " ms\n"
              << "  latency  min " << format("%.2f", t.min_ms) << "  p50 " << format("%.2f", t.p50_ms) << "  p90 "
              << format("%.2f", t.p90_ms) << "  p99 " << format("%.2f", t.p99_ms) << "  max "
              << format("%.2f", t.max_ms) << " ms\n"
              << "  throughput       " << format("%8.1f", t.throughput_per_s) << " items/s\n";
  }
  std::cout << "DONE" << std::endl;
}

void print_json(const RunReport& report) {
  const Engine& engine = report.engine;
  nlohmann::json out;
  out["model"] = engine.path();
  out["device"] = engine.device().str();
  out["threads"] = report.threads;
  out["load_ms"] = engine.load_seconds() * 1e3;
  out["options"] = detail::options_json(engine.options());
  out["optimizations"] = engine.optimizations();
  out["load_report"] = detail::load_report_json(engine.load_report());  // the keys of Engine.load_report
  out["schema"] = engine.signature().str();
  out["inputs"] = nlohmann::json::array();
  for (const auto& input : report.inputs) {
    out["inputs"].push_back({{"name", input.name},
                             {"dtype", dtype_name(input.tensor.scalar_type())},
                             {"shape", input.tensor.sizes().vec()},
                             {"source", input.source}});
  }
  const at::Tensor values = report.output.detach().to(at::kCPU).to(at::kDouble).contiguous();
  out["output"] = {
      {"dtype", dtype_name(report.output.scalar_type())},
      {"shape", report.output.sizes().vec()},
      {"values", std::vector<double>(values.data_ptr<double>(), values.data_ptr<double>() + values.numel())}};
  out["topk"] = nlohmann::json::array();
  for (const auto& row : report.topk) {
    nlohmann::json scores = nlohmann::json::array();
    for (const auto& score : row) scores.push_back({{"index", score.index}, {"probability", score.probability}});
    out["topk"].push_back(scores);
  }
  out["timing"] = nullptr;
  if (report.timing) {
    const LatencyStats& t = *report.timing;
    out["timing"] = {{"warmup", report.warmup},   {"iterations", t.samples_ms.size()},
                     {"first_ms", t.first_ms},    {"min_ms", t.min_ms},
                     {"p50_ms", t.p50_ms},        {"p90_ms", t.p90_ms},
                     {"p99_ms", t.p99_ms},        {"max_ms", t.max_ms},
                     {"mean_ms", t.mean_ms},      {"throughput_per_s", t.throughput_per_s},
                     {"samples_ms", t.samples_ms}};
  }
  std::cout << out.dump(2) << std::endl;
}

}  // namespace tsnative::ts_infer
