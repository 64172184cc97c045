// The process-wide settings of the LibTorch runtime tsnative runs in, set by one explicit call. Engines and
// fine-tuning never change them behind the caller's back (fine-tuning's `threads` is restored when it returns).
// Light on purpose: no torch headers.
#pragma once

#include <optional>
#include <string>

namespace tsnative {

struct RuntimeOptions {
  std::optional<int> threads{};          // intra-op threads (LibTorch's pool, shared by every engine and torch)
  std::optional<int> interop_threads{};  // inter-op threads; LibTorch accepts this once, before any parallel work
};

struct RuntimeSettings {
  int threads = 0;
  int interop_threads = 0;
  std::string cpu_capability;  // the CPU kernels LibTorch picked: "AVX512", "AVX2", "DEFAULT"...
  bool cpu_has_bf16 = false;   // native bfloat16 arithmetic (AVX-512 BF16 or AMX): bf16 is fast on this CPU
  // tsnative's TorchScript pre-pass, installed the first time an engine tries oneDNN Graph fusion. It is inert
  // for every graph but an engine's own fused executors (a thread-local switch), so other TorchScript in the
  // process is unaffected.
  bool fusion_pass_installed = false;
};

// Applies the settings given (the others stay). Throws InvalidValue for a count below 1, or for interop_threads
// once LibTorch has started its inter-op pool.
void configure_runtime(const RuntimeOptions& options);

RuntimeSettings runtime_settings();

}  // namespace tsnative
