// Facts about what an Engine did with a model at load and since: what tests and tools read (Engine::load_report()),
// where Engine::optimizations() is the one-line-per-step view for people, made from it. Light on purpose: no torch
// headers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tsnative {

// EngineOptions::onednn_fusion.
enum class FusionMode {
  kAuto,  // tried on each declared warm-up shape; kept where it gives the unfused outputs and is faster
  kOn,    // tried on each call shape (declared, or on its first call); kept where it gives the unfused outputs
  kOff,   // never
};

// "auto", "on", "off"; parse_fusion_mode throws InvalidValue for anything else.
const char* fusion_mode_name(FusionMode mode);
FusionMode parse_fusion_mode(const std::string& name);

// oneDNN Graph fusion tried on one call shape.
struct FusionTrial {
  std::string shape;               // the call's argument shapes, e.g. "[1, 3, 224, 224]"
  bool verified = false;           // the fused graph ran and gave the unfused graph's outputs on every trial call
  bool kept = false;               // calls of this shape run fused
  double max_relative_diff = 0.0;  // fused vs unfused, relative to each output tensor's scale
  std::optional<double> fused_ms;  // median latency, when the choice was made by speed (auto mode)
  std::optional<double> unfused_ms;
  std::string reason;  // why it was not kept ("" when kept)
};

struct FusionReport {
  FusionMode mode = FusionMode::kAuto;
  bool tried = false;                   // false: fusion does not apply to this engine (see skipped_reason)
  std::string skipped_reason;           // e.g. "device is cuda:0", "no warmup_shapes declared"
  std::vector<FusionTrial> trials;      // one per call shape tried
  std::optional<std::string> disabled;  // why fusion was switched off while running (a fused graph raised)
};

// Dynamic batching (EngineOptions::max_batch): whether it applies, and what it has done since the load.
struct BatchingReport {
  bool enabled = false;                 // calls may be batched (the "dynamic_batching" step says why not)
  int64_t max_batch = 0;                // rows per batch at most
  int64_t delay_us = 0;                 // the longest a call waits for others
  int64_t calls = 0;                    // calls that joined a batch
  int64_t unbatched_calls = 0;          // calls run on their own: not all tensors with a batch, or too many rows
  int64_t batches = 0;                  // runs of the model for batched calls
  int64_t rows = 0;                     // the callers' rows in those runs
  int64_t padded_rows = 0;              // rows added to reach a captured CUDA graph's batch
  int64_t largest_batch = 0;            // the most callers' rows in one run
  int64_t retried_batches = 0;          // batches whose run failed, each of their calls then run alone
  int64_t queued = 0;                   // calls waiting for their batch now
  std::optional<std::string> disabled;  // why batching was switched off while running (an output without a batch)
};

// One optimisation step considered at load, applied or skipped.
struct LoadStep {
  // "freeze", "precision", "executor_per_shape", "warmup", "onednn_fusion", "cuda_graphs", "pinned_transfers",
  // "dynamic_batching"
  std::string name;
  bool applied = false;
  std::vector<std::string> shapes;  // the call shapes it was applied to (or skipped for), where it is per shape
  std::string reason;               // why it was skipped; for an applied step a detail ("bf16"), or ""
  std::string note;                 // the line Engine::optimizations() shows for it
};

// Wall time of each phase of the load, in seconds.
struct LoadTimings {
  double read_s = 0.0;         // opening the file, its SHA-256 pin and archive checks
  double deserialize_s = 0.0;  // the backend's own load (torch::jit::load)
  double optimize_s = 0.0;     // freezing and precision conversion
  double prepare_s = 0.0;      // warm-up, per-shape executors, fusion trials, CUDA graph capture
  double total_s = 0.0;        // the whole constructor
};

struct LoadReport {
  std::string backend;                // "torchscript"
  std::string device;                 // "cpu", "cuda:0"
  std::string precision;              // "fp32", "bf16", "fp16"
  bool frozen = false;                // the weights are constants in the graph (frozen at export or at load)
  int64_t parameter_count = 0;        // elements in the module's parameters as loaded (0 for a frozen file)
  std::vector<LoadStep> steps;        // in the order they were taken
  FusionReport fusion;                // oneDNN Graph fusion's trials (a snapshot: "on" mode adds trials later)
  BatchingReport batching;            // dynamic batching's counters (a snapshot)
  std::vector<std::string> warnings;  // e.g. bf16 on a CPU without bf16 instructions
  LoadTimings timings;
};

}  // namespace tsnative
