#include "optimize.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Config.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/zeros.h>
#include <torch/csrc/jit/codegen/onednn/interface.h>

#include <algorithm>
#include <mutex>

#include "dtypes.h"
#include "error_text.h"
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

std::vector<std::string> freeze_for_inference(torch::jit::Module& module, const EngineOptions& options) {
  // A frozen module (tsnative.export's default) reads no weights through attributes: nothing to do.
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
  // LibTorch's own switch (RegisterLlgaFuseGraph) fuses every TorchScript graph in the process, including other
  // engines' and Python's. This pre-pass fuses only graphs optimised inside a FusionScope(true): the profiling
  // executor optimises synchronously on the calling thread.
  static std::once_flag registered;
  std::call_once(registered, [] {
    torch::jit::registerPrePass([](std::shared_ptr<torch::jit::Graph>& graph) {
      if (fusion_wanted) torch::jit::fuser::onednn::fuseGraph(graph);
    });
  });
  return std::nullopt;
}

FusionScope::FusionScope(bool fuse) : previous_(fusion_wanted) { fusion_wanted = fuse; }
FusionScope::~FusionScope() { fusion_wanted = previous_; }

std::vector<std::vector<c10::IValue>> warmup_inputs(const std::vector<std::vector<std::vector<int64_t>>>& shapes,
                                                    const std::vector<InputSpec>& recorded, c10::Device device) {
  std::vector<std::vector<c10::IValue>> calls;
  // A private generator with a fixed seed: the caller's random stream is left alone, and loads are reproducible.
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(/*seed_in=*/0);
  for (const auto& call : shapes) {
    if (!recorded.empty() && call.size() != recorded.size()) {
      throw InvalidValue("warmup_shapes: expected " + std::to_string(recorded.size()) +
                         " shape(s) per call, one per recorded input, got " + std::to_string(call.size()));
    }
    std::vector<c10::IValue> inputs;
    for (size_t i = 0; i < call.size(); ++i) {
      const auto dtype = i < recorded.size() ? dtype_from_name(recorded[i].dtype) : std::nullopt;
      for (const int64_t size : call[i]) {
        if (size < 0) {
          std::string given;
          for (const int64_t each : call[i]) given += (given.empty() ? "" : ", ") + std::to_string(each);
          throw InvalidValue("warmup_shapes: expected sizes >= 0, got [" + given + "]");
        }
      }
      const auto options = at::TensorOptions().dtype(dtype.value_or(at::kFloat));
      try {
        at::Tensor tensor = c10::isFloatingType(dtype.value_or(at::kFloat)) ? at::randn(call[i], generator, options)
                                                                            : at::zeros(call[i], options);
        inputs.emplace_back(tensor.to(device));
      } catch (const std::exception& e) {
        throw InvalidValue("warmup_shapes: cannot make an input of shape " + shape_text(call[i]) + " (" + cause_of(e) +
                           ")");
      }
    }
    calls.push_back(std::move(inputs));
  }
  return calls;
}

}  // namespace tsnative::detail
