#include "backends/torchscript/optimize.h"

#include <ATen/Config.h>

#include <algorithm>

#include "common/error_text.h"
#include "tsnative/errors.h"

namespace tsnative::detail {

namespace {

// Whether a value of this type holds a tensor or a module: a tensor, a module or interface, or a container of them.
bool holds_weights(const c10::TypePtr& type) {
  if (type->isSubtypeOf(*c10::TensorType::get())) return true;
  if (const auto cls = type->cast<c10::ClassType>(); cls && cls->is_module()) return true;
  if (type->cast<c10::InterfaceType>()) return true;
  const auto contained = type->containedTypes();
  return std::any_of(contained.begin(), contained.end(),
                     [](const c10::TypePtr& inner) { return holds_weights(inner); });
}

// Whether a graph (nested blocks included) reads a tensor or a module through an attribute of self.
bool reads_tensor_attributes(const torch::jit::Block& block) {
  for (const torch::jit::Node* node : block.nodes()) {
    if (node->kind() == c10::prim::GetAttr && holds_weights(node->output()->type())) return true;
    for (const torch::jit::Block* inner : node->blocks()) {
      if (reads_tensor_attributes(*inner)) return true;
    }
  }
  return false;
}

}  // namespace

bool is_frozen(const torch::jit::Module& module) {
  for (const auto& method : module.get_methods()) {
    if (reads_tensor_attributes(*method.graph()->block())) return false;
  }
  return true;
}

std::optional<LoadStep> freeze_for_inference(torch::jit::Module& module, bool freeze) {
  // A frozen module (tsnative.export's default) reads no weights through attributes: nothing to do.
  if (!freeze || is_frozen(module)) return std::nullopt;
  std::vector<std::string> keep;
  for (const auto& method : module.get_methods()) {
    if (method.name() != "forward") keep.push_back(method.name());
  }
  try {
    module = torch::jit::freeze(module, keep);
  } catch (const std::exception& e) {
    const std::string reason = first_line(e.what());
    return LoadStep{"freeze", false, {}, reason, "freeze skipped (" + reason + ")"};
  }
  return LoadStep{"freeze", true, {}, "", "freeze"};
}

bool calls_other_functions(const torch::jit::Block& block) {
  for (const torch::jit::Node* node : block.nodes()) {
    if (node->kind() == c10::prim::CallFunction || node->kind() == c10::prim::CallMethod) return true;
    for (const torch::jit::Block* inner : node->blocks()) {
      if (calls_other_functions(*inner)) return true;
    }
  }
  return false;
}

std::optional<std::string> fusion_unavailable(FusionMode mode, c10::Device device, bool frozen,
                                              const torch::jit::Graph& graph) {
  if (mode == FusionMode::kOff) return "turned off";
  if (!device.is_cpu()) return "oneDNN Graph fusion is for the CPU; the device is " + device.str();
  if (!AT_MKLDNN_ENABLED()) return "this LibTorch was built without oneDNN";
  // oneDNN Graph needs a frozen graph: on an unfrozen module with batchnorm it computed wrong outputs (0.05 off on
  // a small conv net, torch 2.14), so it is only used where weights are constants.
  if (!frozen) return "the module is not frozen";
  // A fused executor is a copy of the method's graph; a function it calls keeps one executor, shared with the
  // unfused path, which fusing it would fuse too.
  if (calls_other_functions(*graph.block())) return "the method calls other functions that stay unfused";
  install_fusion_pass();
  return std::nullopt;
}

}  // namespace tsnative::detail
