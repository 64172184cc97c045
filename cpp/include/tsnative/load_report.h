// Facts about what an Engine did with a model at load and since: what tests and tools read (Engine::fusion()),
// where Engine::optimizations() is the one-line-per-step view for people. Light on purpose: no torch headers.
#pragma once

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

}  // namespace tsnative
