#include "inputs.h"

#include <ATen/ops/randint.h>
#include <ATen/ops/randn.h>
#include <c10/core/ScalarType.h>

#include <regex>

#include "../../src/dtypes.h"
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

std::vector<PreparedInput> prepare_inputs(const std::vector<InputSpec>& recorded, const InputRequest& request) {
  std::vector<InputSpec> specs = recorded;
  if (specs.empty()) specs.push_back({"input", "Tensor", "float32", kDefaultShape});

  std::vector<PreparedInput> inputs;
  for (size_t i = 0; i < specs.size(); ++i) {
    const InputSpec& spec = specs[i];
    if (i == 0 && request.npy_path) {
      inputs.push_back({spec.name, load_npy(*request.npy_path), "file " + *request.npy_path});
      continue;
    }
    if (spec.type != "Tensor") {
      throw InvalidValue("ts-infer makes random data for tensor arguments only; argument '" + spec.name + "' is " +
                         spec.type);
    }
    std::vector<int64_t> shape = (i == 0 && request.shape) ? *request.shape : spec.shape;
    if (request.batch && !shape.empty()) shape[0] = *request.batch;
    for (auto& dimension : shape) {
      if (dimension < 0) dimension = 1;  // a dynamic (batch) dimension without --batch: one item
    }
    inputs.push_back({spec.name, random_tensor(shape, dtype_named(spec.dtype)), "random"});
  }
  return inputs;
}

}  // namespace tsnative::ts_infer
