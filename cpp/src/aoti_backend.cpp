// The AOTInductor backend: a .pt2 package (torch.export + torch._inductor.aoti_compile_and_package) run by
// LibTorch's AOTIModelPackageLoader. The package is compiled code for one machine and device; tsnative reads its
// own metadata from the package to describe the call (a schema the engine binds against) and to rebuild the
// output structure from the loader's flat list of tensors.
#include "aoti_backend.h"

#include <torch/csrc/inductor/aoti_package/model_package_loader.h>
#include <torch/csrc/jit/frontend/function_schema_parser.h>

#include <chrono>

#include "archive_check.h"
#include "error_text.h"
#include "model_bytes.h"
#include "sha256.h"
#include "tsnative/errors.h"
#include "tsnative/metadata.h"

namespace tsnative::detail {
namespace {

double aoti_seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The output structures this backend rebuilds from the loader's flat list.
enum class OutputKind { kTensor, kTuple, kList };

class AotiBackend final : public Backend {
 public:
  AotiBackend(const BackendRequest& request, LoadReport& report) : path_(request.path) {
    const EngineOptions& options = request.options;
    if (request.precision) {
      throw InvalidValue("precision: a .pt2 package runs in the precision it was compiled in; got \"" +
                         options.precision + "\", expected \"fp32\"");
    }
    if (options.cuda_graphs) throw InvalidValue("cuda_graphs: not available for .pt2 packages (AOTInductor)");
    if (options.method != "forward") {
      throw InvalidValue("method: a .pt2 package has one entry point, forward; got '" + options.method + "'");
    }
    auto start = std::chrono::steady_clock::now();
    // The file is opened and checked before the loader extracts it; a pinned file is read into memory and hashed.
    // (The loader reopens the path: unlike TorchScript's, it cannot read from the bytes checked here.)
    const auto bytes = ModelBytes::open(path_, options.max_archive_bytes.value_or(0),
                                        options.sha256 ? ModelBytes::Hold::kMemory : ModelBytes::Hold::kFile);
    if (options.sha256) verify_sha256(path_, bytes->bytes(), *options.sha256);
    check_aoti_package(path_, bytes, options.max_archive_bytes.value_or(0));
    report.timings.read_s = aoti_seconds_since(start);

    start = std::chrono::steady_clock::now();
    // The device it was compiled for is read first, without loading its code: a package for another device is
    // refused before its shared library is opened.
    std::unordered_map<std::string, std::string> metadata;
    try {
      metadata = torch::inductor::AOTIModelPackageLoader::load_metadata_from_package(path_, "model");
    } catch (const std::exception& e) {
      throw ModelLoadError(path_, "AOTInductor could not read the package: " + cause_of(e));
    }
    check_device(metadata, request.device);
    const c10::DeviceIndex index = request.device.is_cuda() ? request.device.index() : -1;
    try {
      loader_ = std::make_unique<torch::inductor::AOTIModelPackageLoader>(path_, "model", false, 1, index);
    } catch (const std::exception& e) {
      throw ModelLoadError(path_, "AOTInductor could not load the package: " + cause_of(e));
    }
    report.timings.deserialize_s = aoti_seconds_since(start);
    const auto recorded = metadata.find(kMetadataFile);
    if (recorded == metadata.end() || recorded->second.empty()) {
      throw ModelLoadError(path_,
                           "the package has no tsnative metadata (tsnative.json); export it with "
                           "tsnative.export(model, inputs, \"model.pt2\")");
    }
    try {
      metadata_json_ = checked_metadata(recorded->second);
    } catch (const InvalidValue& e) {
      throw ModelLoadError(path_, e.what());
    }
    schema_ = schema_of(recorded_inputs(metadata_json_));
    report.backend = "aoti";
    report.frozen = true;  // the weights are compiled into the package
    report.fusion.skipped_reason = "fusion is Inductor's, compiled into the package";
    report.steps.push_back({"aot_inductor", true, {}, "", "aot_inductor (compiled ahead of time)"});
  }

  const c10::FunctionSchema& schema() const override { return *schema_; }
  std::vector<std::string> method_names() const override { return {"forward"}; }
  const std::string& metadata_json() const override { return metadata_json_; }

  void prepare(const std::vector<std::vector<c10::IValue>>& calls, LoadReport& report) override {
    if (calls.empty()) return;
    std::vector<std::string> shapes;
    for (const auto& call : calls) {
      try {
        execute(call);
      } catch (const std::exception& e) {
        throw InvalidValue("warmup_shapes: the package failed on random inputs: " + cause_of(e));
      }
      std::string text;
      for (const auto& value : call) text += (text.empty() ? "" : ", ") + shape_text(value.toTensor().sizes().vec());
      shapes.push_back(text);
    }
    report.steps.push_back({"warmup", true, shapes, "", "warmup x" + std::to_string(calls.size())});
  }

  c10::IValue execute(std::vector<c10::IValue> inputs) const override {
    std::vector<at::Tensor> tensors;
    tensors.reserve(inputs.size());
    for (auto& input : inputs) tensors.push_back(std::move(input).toTensor());
    std::vector<at::Tensor> outputs = loader_->run(tensors);
    if (output_kind_ == OutputKind::kTensor) {
      if (outputs.size() != 1) {
        throw InferenceError("the package returned " + std::to_string(outputs.size()) + " tensors; its metadata " +
                             "records one");
      }
      return std::move(outputs.front());
    }
    if (output_kind_ == OutputKind::kList) return c10::List<at::Tensor>(outputs);
    return c10::ivalue::Tuple::create(std::vector<c10::IValue>(outputs.begin(), outputs.end()));
  }

 private:
  void check_device(const std::unordered_map<std::string, std::string>& metadata, c10::Device device) const {
    const auto key = metadata.find("AOTI_DEVICE_KEY");
    const std::string compiled_for = key == metadata.end() ? "cpu" : key->second;
    const std::string wanted = device.is_cuda() ? "cuda" : "cpu";
    if (compiled_for != wanted) {
      throw ModelLoadError(path_, "the package was compiled for " + compiled_for + "; this engine's device is " +
                                      device.str() + " (a .pt2 package runs on the device it was compiled for)");
    }
  }

  // forward(Any self, Tensor x, ...) -> Tensor | (Tensor, ...) | Tensor[]: what the engine binds calls against.
  std::optional<c10::FunctionSchema> schema_of(const std::vector<InputSpec>& inputs) {
    std::string arguments = "Any self";
    for (const auto& input : inputs) {
      if (input.type != "Tensor") {
        throw ModelLoadError(path_, "input '" + input.name + "' is a " + input.type +
                                        "; this version runs .pt2 packages whose inputs are tensors");
      }
      arguments += ", Tensor " + input.name;
    }
    std::string returns = "Tensor";
    const std::string outputs = recorded_output_type(metadata_json_);
    if (outputs == "tuple") {
      output_kind_ = OutputKind::kTuple;
      returns = "Any";
    } else if (outputs == "list") {
      output_kind_ = OutputKind::kList;
      returns = "Tensor[]";
    } else if (outputs != "Tensor") {
      throw ModelLoadError(path_, "its output is a " + outputs +
                                      "; this version runs .pt2 packages that return a tensor, or a tuple or list "
                                      "of tensors");
    }
    return torch::jit::parseSchema("forward(" + arguments + ") -> " + returns);
  }

  std::string path_;
  std::unique_ptr<torch::inductor::AOTIModelPackageLoader> loader_;
  std::string metadata_json_;
  std::optional<c10::FunctionSchema> schema_;
  OutputKind output_kind_ = OutputKind::kTensor;
};

}  // namespace

std::unique_ptr<Backend> load_aoti(const BackendRequest& request, LoadReport& report) {
  return std::make_unique<AotiBackend>(request, report);
}

std::string read_aoti_metadata_json(const std::string& path) {
  try {
    const auto metadata = torch::inductor::AOTIModelPackageLoader::load_metadata_from_package(path, "model");
    const auto recorded = metadata.find(kMetadataFile);
    return recorded == metadata.end() ? "" : recorded->second;
  } catch (const std::exception& e) {
    throw ModelLoadError(path, "AOTInductor could not read the package's metadata: " + cause_of(e));
  }
}

}  // namespace tsnative::detail
