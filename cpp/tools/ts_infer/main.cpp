// ts-infer: load a TorchScript model, run it on random or .npy input, print the top classes, optionally time it.
//   ts-infer MODEL.pt [--device cpu|cuda|cuda:N] [--batch N | --shape 1x3x224x224] [--input FILE.npy]
//                     [--topk K] [--threads N] [--warmup N --iters N] [--precision fp32|bf16|fp16]
//                     [--cuda-graphs] [--pinned] [--json]
// Exit status: 0 done, 1 the model or input could not be loaded or run, 2 wrong usage.
#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/core/ivalue.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <iostream>

#include "../common/option_flags.h"
#include "inputs.h"
#include "report.h"
#include "tsnative/engine.h"
#include "tsnative/errors.h"
#include "tsnative/metadata.h"
#include "tsnative/runtime.h"
#include "tsnative/timing.h"

namespace tsnative::ts_infer {
namespace {

struct Arguments {
  std::string model;
  EngineOptions engine;
  InputRequest input;
  std::string shape_text;
  int64_t topk = 5;
  int warmup = -1;  // -1: 10 when --iters is given
  int iterations = 0;
  std::optional<int> threads;
  bool json = false;
  std::string tf32 = "default";  // CUDA: "on", "off", or LibTorch's default (TF32 convolutions, fp32 matmuls)
};

// TF32 (10-bit mantissa) in cuDNN convolutions and cuBLAS matmuls: faster on Ampere and later GPUs, and results
// differ from float32 by ~1e-3. LibTorch's default allows it for convolutions only, as PyTorch does.
void apply_tf32(const std::string& choice) {
  if (choice == "default") return;
  const bool allow = choice == "on";
  at::globalContext().setAllowTF32CuDNN(allow);
  at::globalContext().setAllowTF32CuBLAS(allow);
}

// The first tensor in an output structure (the logits of a classifier, the first of a tuple...).
at::Tensor first_tensor(const c10::IValue& value) {
  if (value.isTensor()) return value.toTensor();
  if (value.isTuple()) {
    for (const auto& element : value.toTupleRef().elements()) {
      if (auto found = first_tensor(element); found.defined()) return found;
    }
  }
  if (value.isList()) {
    for (const auto& element : value.toListRef()) {
      if (auto found = first_tensor(element); found.defined()) return found;
    }
  }
  if (value.isGenericDict()) {
    for (const auto& entry : value.toGenericDict()) {
      if (auto found = first_tensor(entry.value()); found.defined()) return found;
    }
  }
  return {};
}

int run(const Arguments& arguments) {
  std::optional<Engine> engine;
  PreparedCall inputs;
  const auto prepare = [&arguments](const std::string& metadata_json) {
    at::manual_seed(arguments.input.seed);
    return prepare_inputs(recorded_inputs(metadata_json), arguments.input);
  };
  apply_tf32(arguments.tf32);
  configure_runtime({arguments.threads, std::nullopt});
  const bool declare = arguments.iterations > 0 || arguments.engine.cuda_graphs;
  try {
    EngineOptions options = arguments.engine;
    // When the input is run many times (--iters) or captured (--cuda-graphs), its shapes (from the file's metadata
    // and the options) are declared, so the engine warms up, tries fusion and captures CUDA graphs for exactly what
    // ts-infer runs. A single run is left to the plain graph: a warm-up and a fusion trial would cost more.
    if (declare) {
      inputs = prepare(read_metadata_json(arguments.model));
      // Declared shapes are one per argument: a call with tuples, lists or dicts is run as it is, undeclared.
      const auto is_tensor = [](const c10::IValue& argument) { return argument.isTensor(); };
      if (std::all_of(inputs.arguments.begin(), inputs.arguments.end(), is_tensor)) {
        options.warmup_shapes.emplace_back();
        for (const auto& input : inputs.tensors) options.warmup_shapes.back().push_back(input.tensor.sizes().vec());
      }
    }
    engine.emplace(arguments.model, options);
  } catch (const FileNotFound& e) {
    std::cerr << "Error loading model: " << e.what() << std::endl;
    return 1;
  } catch (const ModelLoadError& e) {
    std::cerr << "Error loading model: " << e.what() << std::endl;
    return 1;
  }
  for (const auto& warning : engine->load_report().warnings) std::cerr << "warning: " << warning << std::endl;
  // Read from the loaded engine when it was not needed before the load: the file is opened and checked once.
  if (!declare) inputs = prepare(engine->metadata_json());
  const std::vector<c10::IValue>& values = inputs.arguments;

  const int warmup = arguments.warmup >= 0 ? arguments.warmup : 10;
  RunReport report{*engine, at::get_num_threads(), inputs.tensors, {}, {}, std::nullopt, warmup};
  if (arguments.iterations > 0) {
    const bool batched = !inputs.tensors.empty() && inputs.tensors.front().tensor.dim() > 0;
    const int64_t batch = batched ? inputs.tensors.front().tensor.size(0) : 1;
    report.timing = time_engine(*engine, values, {warmup, arguments.iterations, batch});
  }
  report.output = first_tensor(engine->run(values));
  if (!report.output.defined()) throw InferenceError("the model's output holds no tensor to report");
  report.topk = top_classes(report.output, arguments.topk);
  arguments.json ? print_json(report) : print_text(report);
  return 0;
}

}  // namespace
}  // namespace tsnative::ts_infer

int main(int argc, char** argv) {
  using tsnative::ts_infer::Arguments;
  Arguments arguments;
  CLI::App app{"Run a TorchScript model natively (LibTorch) and print its top classes; time it with --iters.",
               "ts-infer"};
  app.set_version_flag("--version", std::string("ts-infer ") + TSNATIVE_VERSION);
  app.add_option("model", arguments.model, "TorchScript file (.pt)")->required();
  // Every Engine option, from its one declaration: --device, --method, --no-input-check, --sha256, --fusion...
  tsnative::tools::add_option_flags(app, arguments.engine);
  bool no_fusion = false;
  app.add_flag("--no-fusion", no_fusion, "CPU: run without oneDNN Graph fusion (= --fusion off)");
  auto* batch = app.add_option("--batch", arguments.input.batch, "batch size of the random input")
                    ->check(tsnative::tools::at_least(1));
  auto* shape = app.add_option("--shape", arguments.shape_text, "input shape, e.g. 1x3x224x224");
  auto* input = app.add_option("--input", arguments.input.npy_path, "input data: a .npy file (float32/64, int64)");
  input->excludes(batch)->excludes(shape);
  app.add_option("--topk", arguments.topk, "how many classes to print")
      ->capture_default_str()
      ->check(tsnative::tools::at_least(1));
  app.add_option_function<int>(
         "--threads", [&arguments](const int& threads) { arguments.threads = threads; },
         "intra-op threads, process-wide (default: LibTorch's)")
      ->check(tsnative::tools::at_least(1));
  app.add_option("--warmup", arguments.warmup, "untimed runs before timing (default 10)")
      ->check(tsnative::tools::at_least(0));
  app.add_option("--iters", arguments.iterations, "timed runs (default 0: no timing)")
      ->check(tsnative::tools::at_least(0));
  app.add_option("--seed", arguments.input.seed, "seed of the random input")->capture_default_str();
  app.add_flag("--json", arguments.json, "print one JSON object instead of text");
  app.add_option("--tf32", arguments.tf32,
                 "CUDA: TF32 in convolutions and matmuls: on (faster, ~1e-3 from float32), off (float32), default "
                 "(LibTorch's: convolutions only)")
      ->check(CLI::IsMember({"default", "on", "off"}))
      ->capture_default_str();

  try {
    app.parse(argc, argv);
    if (!arguments.shape_text.empty()) arguments.input.shape = tsnative::ts_infer::parse_shape(arguments.shape_text);
    if (no_fusion) arguments.engine.onednn_fusion = "off";
  } catch (const CLI::Success& e) {  // --help, --version
    return app.exit(e);
  } catch (const std::exception& e) {  // CLI::ParseError, or a malformed --shape
    std::cerr << "ts-infer: " << e.what() << "\n"
              << "usage: ts-infer MODEL.pt [--device D] [--batch N | --shape AxBxC] [--input FILE.npy] [--topk K] "
                 "[--threads N] [--warmup N --iters N] [--precision P] [--cuda-graphs] [--json]   (--help for all)"
              << std::endl;
    return 2;
  }
  try {
    return tsnative::ts_infer::run(arguments);
  } catch (const std::exception& e) {
    std::cerr << "Error: " << tsnative::error_line(e) << std::endl;
    return 1;
  }
}
