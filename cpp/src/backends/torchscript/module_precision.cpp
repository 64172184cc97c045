#include "backends/torchscript/module_precision.h"

#include <torch/csrc/jit/ir/ir.h>

namespace tsnative::detail {

namespace {

void convert_constants(torch::jit::Block* block, at::ScalarType dtype) {
  for (torch::jit::Node* node : block->nodes()) {
    for (torch::jit::Block* inner : node->blocks()) convert_constants(inner, dtype);
    if (node->kind() != c10::prim::Constant || !node->hasAttribute(c10::attr::value) ||
        node->kindOf(c10::attr::value) != torch::jit::AttributeKind::t) {
      continue;
    }
    const at::Tensor& constant = node->t(c10::attr::value);
    if (!constant.is_floating_point() || constant.scalar_type() == dtype) continue;
    const at::Tensor converted = constant.to(dtype);
    node->t_(c10::attr::value, converted);
    node->output()->inferTypeFrom(converted);  // the graph's type for the constant must say the new dtype
  }
}

void convert_tensor(const at::Tensor& tensor, at::ScalarType dtype) {
  // set_data keeps the module's slot (and any alias of it) while replacing the storage and dtype.
  if (tensor.is_floating_point() && tensor.scalar_type() != dtype) tensor.set_data(tensor.to(dtype));
}

}  // namespace

void convert_module(torch::jit::Module& module, at::ScalarType dtype) {
  // Constants first: one may share its tensor with a parameter (a partly frozen module), and converting the
  // parameter first would leave the constant's graph type saying float32 while its tensor is not.
  for (const auto& submodule : module.modules()) {
    for (const auto& method : submodule.get_methods()) convert_constants(method.graph()->block(), dtype);
  }
  // Module::to(dtype) would also convert integer buffers (batchnorm's num_batches_tracked): only floats change.
  for (const auto& parameter : module.parameters()) convert_tensor(parameter, dtype);
  for (const auto& buffer : module.buffers()) convert_tensor(buffer, dtype);
}

}  // namespace tsnative::detail
