// The AOTInductor backend: a .pt2 package (torch.export + torch._inductor.aoti_compile_and_package) run by
// LibTorch's AOTIModelPackageLoader. The package is compiled code for one machine and device; tsnative reads its
// own metadata from the package (the inputs' names and shapes) and the package's call spec (the structure of the
// inputs and outputs: tuples, lists, dicts) to describe the call as a schema the engine binds against, flattens
// each call's inputs to the loader's flat list of tensors and rebuilds the outputs' structure from its result.
#include "backends/aoti/aoti_backend.h"

#include <torch/csrc/inductor/aoti_package/model_package_loader.h>
#include <torch/csrc/jit/frontend/function_schema_parser.h>

#include <chrono>

#include "backends/aoti/call_spec.h"
#include "backends/aoti/cpu_isa.h"
#include "backends/aoti/package_folder.h"
#include "common/error_text.h"
#include "common/stopwatch.h"
#include "file/archive_check.h"
#include "file/model_bytes.h"
#include "tsnative/errors.h"
#include "tsnative/metadata.h"

namespace tsnative::detail {
namespace {

class AotiBackend final : public Backend {
 public:
  AotiBackend(const BackendRequest& request, LoadReport& report) : path_(request.path) {
    const EngineOptions& options = request.options;
    // precision, cuda_graphs and method are TorchScript's options, refused before this (OptionInfo::backend).
    // The compiled code assumes the recorded shapes and dtypes and does not check them (AOTInductor's own checks
    // are off unless AOTI_RUNTIME_CHECK_INPUTS is set): the engine's checks are its only guard.
    if (!options.check_inputs) {
      throw InvalidValue(
          "check_inputs: a .pt2 package's compiled code assumes the recorded shapes and dtypes; "
          "the input check cannot be turned off for it");
    }
    auto start = std::chrono::steady_clock::now();
    // The file as open_backend opened (and, when pinned, hashed) it, checked before anything is extracted.
    check_aoti_package(path_, request.bytes, options.max_archive_bytes.value_or(0));
    report.timings.read_s += seconds_since(start);

    start = std::chrono::steady_clock::now();
    // The loader reads a folder of tsnative's, extracted from the checked bytes (see package_folder.h). The device
    // it was compiled for is read from there first: a package for another device is refused before its shared
    // library is opened.
    folder_ = PackageFolder::of(path_, request.bytes, options.sha256.value_or(""));
    const std::unordered_map<std::string, std::string> metadata = folder_->metadata(path_);
    // tsnative's metadata, the device and the CPU are checked before the package's code is loaded.
    const auto recorded = metadata.find(kMetadataFile);
    if (recorded == metadata.end() || recorded->second.empty()) {
      throw ModelLoadError(path_,
                           "the package has no tsnative metadata (tsnative.json); export it with "
                           "tsnative.export(model, inputs, \"model.pt2\")");
    }
    try {
      metadata_json_ = checked_metadata(recorded->second);
      check_device(metadata, request.device);
      check_cpu(metadata, recorded_cpu_features(metadata_json_));
    } catch (const InvalidValue& e) {
      throw ModelLoadError(path_, e.what());
    }
    const c10::DeviceIndex index = request.device.is_cuda() ? request.device.index() : -1;
    try {
      loader_ = std::make_unique<torch::inductor::AOTIModelPackageLoader>(
          folder_->str(), "model", false, static_cast<size_t>(options.package_runners), index);
    } catch (const std::exception& e) {
      throw ModelLoadError(path_, "AOTInductor could not load the package: " + cause_of(e));
    }
    PackageFolder::keep(folder_);
    report.timings.deserialize_s = seconds_since(start);
    read_call(recorded_inputs(metadata_json_));
    report.frozen = true;  // the weights are compiled into the package
    report.fusion.skipped_reason = "fusion is Inductor's, compiled into the package";
    report.steps.push_back({"aot_inductor", true, {}, "", "aot_inductor (compiled ahead of time)"});
  }

  const c10::FunctionSchema& schema() const override { return *schema_; }
  std::vector<std::string> method_names() const override { return {"forward"}; }
  const std::string& metadata_json() const override { return metadata_json_; }
  bool assumes_recorded_inputs() const override { return true; }

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
      for (const auto& value : call) {
        if (value.isTensor()) text += (text.empty() ? "" : ", ") + shape_text(value.toTensor().sizes().vec());
      }
      shapes.push_back(text);
    }
    report.steps.push_back({"warmup", true, shapes, "", "warmup x" + std::to_string(calls.size())});
  }

  c10::IValue execute(std::vector<c10::IValue> inputs) const override {
    std::vector<at::Tensor> tensors;
    for (size_t i = 0; i < inputs.size(); ++i) flatten(inputs[i], arguments_[i], input_names_[i], tensors);
    // The code was compiled for contiguous inputs (the export made the example contiguous); it reads memory by
    // those strides whatever the tensor's own are.
    for (auto& tensor : tensors) tensor = tensor.contiguous();
    std::vector<at::Tensor> outputs = loader_->run(tensors);
    if (outputs.size() != leaf_count(outputs_)) {
      throw InferenceError("the package returned " + std::to_string(outputs.size()) + " tensors; its call spec " +
                           "records " + std::to_string(leaf_count(outputs_)));
    }
    size_t next = 0;
    return unflatten(outputs, next, outputs_);
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

  // The package's kernels (and the CPU code of a CUDA package's wrapper) are compiled for the exporting CPU
  // (-march=native): on a CPU without its instructions they would kill the process with an illegal instruction.
  void check_cpu(const std::unordered_map<std::string, std::string>& metadata,
                 const std::vector<std::string>& recorded_features) const {
    const auto isa = metadata.find("AOTI_CPU_ISA");
    std::vector<std::string> needed = isa_features(isa == metadata.end() ? "" : isa->second);
    needed.insert(needed.end(), recorded_features.begin(), recorded_features.end());
    const auto missing = missing_cpu_features(needed, cpu_has);
    if (missing.empty()) return;
    std::string features;
    for (const auto& feature : missing) features += (features.empty() ? "" : ", ") + feature;
    throw ModelLoadError(path_, "the package was compiled for a CPU with instructions this CPU lacks (" + features +
                                    "; its AOTInductor ISA: " + (isa == metadata.end() ? "none" : isa->second) +
                                    "): export it on this kind of machine, or use a TorchScript file");
  }

  // The call as the package's call spec records it, named by tsnative's metadata: the schema the engine binds
  // against, forward(Any self, Tensor x, (Tensor, Tensor) pair, Dict(str, Tensor) features) -> ..., and the
  // structures execute() flattens and rebuilds.
  void read_call(const std::vector<InputSpec>& inputs) {
    try {
      const std::vector<std::string> specs = loader_->get_call_spec();
      if (specs.size() != 2) throw InvalidValue("expected an input and an output spec");
      arguments_ = positional_arguments(parse_tree_spec(specs[0]));
      outputs_ = parse_tree_spec(specs[1]);
    } catch (const InvalidValue& e) {
      throw ModelLoadError(path_, e.what());
    } catch (const std::exception& e) {
      throw ModelLoadError(path_, "AOTInductor could not read the package's call spec: " + cause_of(e));
    }
    if (inputs.size() != arguments_.size()) {
      throw ModelLoadError(path_, "its metadata records " + std::to_string(inputs.size()) + " inputs; its call spec " +
                                      std::to_string(arguments_.size()));
    }
    std::string arguments = "Any self";
    for (size_t i = 0; i < inputs.size(); ++i) {
      input_names_.push_back(inputs[i].name);
      arguments += ", " + type_text(arguments_[i]) + " " + inputs[i].name;
    }
    try {
      schema_ = torch::jit::parseSchema("forward(" + arguments + ") -> " + type_text(outputs_));
    } catch (const std::exception& e) {
      throw ModelLoadError(path_, "its call does not make a schema (" + cause_of(e) + ")");
    }
  }

  std::string path_;
  std::shared_ptr<const PackageFolder> folder_;  // declared first: outlives the loader that reads it
  std::unique_ptr<torch::inductor::AOTIModelPackageLoader> loader_;
  std::string metadata_json_;
  std::optional<c10::FunctionSchema> schema_;
  std::vector<TreeSpec> arguments_;  // one per positional input
  std::vector<std::string> input_names_;
  TreeSpec outputs_;
};

}  // namespace

std::unique_ptr<Backend> load_aoti(const BackendRequest& request, LoadReport& report) {
  return std::make_unique<AotiBackend>(request, report);
}

std::unordered_map<std::string, std::string> read_package_metadata(const std::string& path,
                                                                   const std::shared_ptr<ModelBytes>& bytes) {
  check_aoti_package(path, bytes, 0);
  return PackageFolder::of(path, bytes, "")->metadata(path);
}

std::string read_aoti_metadata_json(const std::string& path, const std::shared_ptr<ModelBytes>& bytes) {
  const auto metadata = read_package_metadata(path, bytes);
  const auto recorded = metadata.find(kMetadataFile);
  return recorded == metadata.end() ? "" : recorded->second;
}

}  // namespace tsnative::detail
