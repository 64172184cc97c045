// tsnative's oneDNN Graph pre-pass: the one process-wide change tsnative makes to LibTorch, and why it is safe.
// LibTorch's own switch (RegisterLlgaFuseGraph) fuses every TorchScript graph in the process, including other
// engines' and Python's. This pre-pass fuses only graphs optimised inside a FusionScope(true) on the same thread
// (the profiling executor optimises synchronously on the calling thread): an engine's own fused executors.
#pragma once

namespace tsnative::detail {

// Installs the pre-pass (once per process; later calls do nothing).
void install_fusion_pass();
bool fusion_pass_installed();

// While alive, TorchScript graphs optimised on this thread are fused with oneDNN Graph when `fuse` is true.
class FusionScope {
 public:
  explicit FusionScope(bool fuse);
  ~FusionScope();
  FusionScope(const FusionScope&) = delete;
  FusionScope& operator=(const FusionScope&) = delete;

 private:
  bool previous_;
};

}  // namespace tsnative::detail
