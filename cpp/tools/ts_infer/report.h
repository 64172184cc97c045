// What ts-infer prints: for people (the seeds' layout) or as one JSON object (--json).
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <string>
#include <vector>

#include "inputs.h"
#include "tsnative/engine.h"
#include "tsnative/timing.h"

namespace tsnative::ts_infer {

struct ClassScore {
  int64_t index;
  double probability;
};

struct RunReport {
  const Engine& engine;
  int threads;
  const std::vector<PreparedInput>& inputs;
  at::Tensor output;                          // the first tensor of the output
  std::vector<std::vector<ClassScore>> topk;  // per row; empty when the output is not class scores
  std::optional<LatencyStats> timing;
  int warmup = 0;
};

// Softmax over the last dimension and the k best classes of each row, for a floating 1-D or 2-D output.
std::vector<std::vector<ClassScore>> top_classes(const at::Tensor& output, int64_t k);

void print_text(const RunReport& report);
void print_json(const RunReport& report);

}  // namespace tsnative::ts_infer
