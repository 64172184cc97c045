#include "backends/torchscript/fusion_pass.h"

#include <torch/csrc/jit/codegen/onednn/interface.h>
#include <torch/csrc/jit/passes/pass_manager.h>

#include <atomic>
#include <mutex>

namespace tsnative::detail {
namespace {

// Whether the TorchScript graph being optimised on this thread belongs to a fused executor (see FusionScope).
thread_local bool fusion_wanted = false;
std::atomic<bool> installed{false};

}  // namespace

void install_fusion_pass() {
  static std::once_flag registered;
  std::call_once(registered, [] {
    torch::jit::registerPrePass([](std::shared_ptr<torch::jit::Graph>& graph) {
      if (fusion_wanted) torch::jit::fuser::onednn::fuseGraph(graph);
    });
    installed = true;
  });
}

bool fusion_pass_installed() { return installed; }

FusionScope::FusionScope(bool fuse) : previous_(fusion_wanted) { fusion_wanted = fuse; }
FusionScope::~FusionScope() { fusion_wanted = previous_; }

}  // namespace tsnative::detail
