#include "optimize.h"

#include <ATen/Config.h>
#include <ATen/ops/zeros.h>
#include <torch/csrc/jit/codegen/onednn/interface.h>

#include <mutex>

#include "error_text.h"
#include "tsnative/errors.h"

namespace tsnative::detail {

bool is_frozen(const torch::jit::Module& module) { return module.parameters().size() == 0; }

std::vector<std::string> freeze_for_inference(torch::jit::Module& module, const EngineOptions& options) {
  // A frozen module (tsnative.export's default) has no parameters left: nothing to do.
  if (!options.freeze || is_frozen(module)) return {};
  std::vector<std::string> keep;
  for (const auto& method : module.get_methods()) {
    if (method.name() != "forward") keep.push_back(method.name());
  }
  try {
    module = torch::jit::freeze(module, keep);
  } catch (const std::exception& e) {
    return {"freeze skipped (" + first_line(e.what()) + ")"};
  }
  return {"freeze"};
}

namespace {

// Whether the TorchScript graph being optimised on this thread belongs to a fused engine (see FusionScope).
thread_local bool fusion_wanted = false;

}  // namespace

bool use_onednn_fusion(const EngineOptions& options, c10::Device device, bool frozen, std::vector<std::string>& notes) {
  if (!options.onednn_fusion || !device.is_cpu() || !AT_MKLDNN_ENABLED()) return false;
  // oneDNN Graph needs a frozen graph: on an unfrozen module with batchnorm it computed wrong outputs (0.05 off on
  // a small conv net, torch 2.14), so it is only used where weights are constants.
  if (!frozen) {
    notes.emplace_back("onednn_fusion skipped (the module is not frozen)");
    return false;
  }
  // LibTorch's own switch (RegisterLlgaFuseGraph) fuses every TorchScript graph in the process, including other
  // engines' and Python's. This pre-pass fuses only graphs optimised inside a fused engine's run(): the profiling
  // executor optimises synchronously on the calling thread, where run() set the flag.
  static std::once_flag registered;
  std::call_once(registered, [] {
    torch::jit::registerPrePass([](std::shared_ptr<torch::jit::Graph>& graph) {
      if (fusion_wanted) torch::jit::fuser::onednn::fuseGraph(graph);
    });
  });
  notes.emplace_back("onednn_fusion");
  return true;
}

FusionScope::FusionScope(bool fuse) : previous_(fusion_wanted) { fusion_wanted = fuse; }
FusionScope::~FusionScope() { fusion_wanted = previous_; }

RunGuards::RunGuards(bool onednn_fusion) : fusion_(onednn_fusion) {
  if (onednn_fusion) {
    no_grad_.emplace();
  } else {
    inference_mode_.emplace();
  }
}

std::vector<std::vector<c10::IValue>> warmup_inputs(const std::vector<std::vector<std::vector<int64_t>>>& shapes,
                                                    const std::vector<InputSpec>& recorded, c10::Device device) {
  std::vector<std::vector<c10::IValue>> calls;
  for (const auto& call : shapes) {
    if (!recorded.empty() && call.size() != recorded.size()) {
      throw InvalidValue("warmup_shapes: expected " + std::to_string(recorded.size()) +
                         " shape(s) per call, one per recorded input, got " + std::to_string(call.size()));
    }
    std::vector<c10::IValue> inputs;
    for (size_t i = 0; i < call.size(); ++i) {
      const auto dtype = i < recorded.size() ? dtype_from_name(recorded[i].dtype) : std::nullopt;
      for (const int64_t size : call[i]) {
        if (size < 0) throw InvalidValue("warmup_shapes: expected sizes >= 0, got " + shape_text(call[i]));
      }
      inputs.emplace_back(at::zeros(call[i], at::TensorOptions().dtype(dtype.value_or(at::kFloat)).device(device)));
    }
    calls.push_back(std::move(inputs));
  }
  return calls;
}

}  // namespace tsnative::detail
