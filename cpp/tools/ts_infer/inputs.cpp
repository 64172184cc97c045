#include "inputs.h"

#include <ATen/ops/randint.h>
#include <ATen/ops/randn.h>
#include <c10/core/ScalarType.h>

#include <regex>

#include "common/ivalue_tensors.h"
#include "format/dtypes.h"
#include "tsnative/errors.h"
#include "tsnative/npy.h"

namespace tsnative::ts_infer {
namespace {

const std::vector<int64_t> kDefaultShape{1, 3, 224, 224};  // the seeds' image batch

c10::ScalarType dtype_named(const std::string& name) {
  if (const auto type = dtype_from_name(name)) return *type;
  throw InvalidValue("metadata: ts-infer cannot make random data of dtype '" + name + "'");
}

at::Tensor random_tensor(const std::vector<int64_t>& shape, c10::ScalarType dtype) {
  const auto options = at::TensorOptions().dtype(dtype);
  if (c10::isFloatingType(dtype)) return at::randn(shape, options);
  if (dtype == c10::kBool) return at::randint(0, 2, shape, options);
  return at::randint(0, 10, shape, options);  // small non-negative integers: valid as indices for most models
}

// Random data of the recorded structure; `top_level` tells --shape and --batch where they apply.
c10::IValue random_value(const InputSpec& spec, const InputRequest& request, bool first, bool top_level,
                         std::vector<PreparedInput>& tensors) {
  if (spec.type == "Tensor") {
    std::vector<int64_t> shape = (first && request.shape) ? *request.shape : spec.shape;
    if (request.batch && !shape.empty() && (top_level || spec.shape.front() < 0)) shape[0] = *request.batch;
    for (auto& dimension : shape) {
      if (dimension < 0) dimension = 1;  // a dynamic (batch) dimension without --batch: one item
    }
    tensors.push_back({spec.name, random_tensor(shape, dtype_named(spec.dtype)), "random"});
    return tensors.back().tensor;
  }
  const bool tuple = spec.type == "tuple";
  if (!tuple && spec.type != "list" && spec.type != "dict") {
    throw InvalidValue("ts-infer makes random data for tensors, also inside tuples, lists and dicts; input '" +
                       spec.name + "' is " + spec.type);
  }
  std::vector<c10::IValue> items;
  for (const auto& item : spec.items) items.push_back(random_value(item, request, false, false, tensors));
  if (tuple) return c10::ivalue::Tuple::create(std::move(items));
  if (spec.type == "list") return detail::typed_list(std::move(items));
  return detail::typed_dict(spec.keys, std::move(items));
}

}  // namespace

std::vector<int64_t> parse_shape(const std::string& text) {
  if (!std::regex_match(text, std::regex(R"(\d+(x\d+)*)"))) {
    throw InvalidValue("--shape: expected dimensions joined by 'x', like 1x3x224x224, got '" + text + "'");
  }
  std::vector<int64_t> shape;
  const std::regex number(R"(\d+)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), number); it != std::sregex_iterator(); ++it) {
    shape.push_back(std::stoll(it->str()));
  }
  return shape;
}

PreparedCall prepare_inputs(const std::vector<InputSpec>& recorded, const InputRequest& request) {
  std::vector<InputSpec> specs = recorded;
  if (specs.empty()) specs.push_back({"input", "Tensor", "float32", kDefaultShape, {}, {}});

  PreparedCall call;
  for (size_t i = 0; i < specs.size(); ++i) {
    if (i == 0 && request.npy_path) {
      call.tensors.push_back({specs[i].name, load_npy(*request.npy_path), "file " + *request.npy_path});
      call.arguments.emplace_back(call.tensors.back().tensor);
      continue;
    }
    call.arguments.push_back(random_value(specs[i], request, i == 0, true, call.tensors));
  }
  return call;
}

}  // namespace tsnative::ts_infer
