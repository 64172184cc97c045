#include "common/stopwatch.h"
#include "tsnative/finetune_steps.h"
#include "tsnative/image_dataset.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <unordered_set>

#include "backends/torchscript/optimize.h"
#include "backends/torchscript/torchscript_load.h"
#include "common/error_text.h"
#include "train/finetune_metadata.h"
#include "tsnative/engine.h"
#include "tsnative/errors.h"

namespace tsnative {
namespace {

namespace fs = std::filesystem;
using Clock = detail::SteadyClock;

// The submodule at a dotted path ("fc", "classifier.6"), or nullopt.
std::optional<torch::jit::Module> find_submodule(const torch::jit::Module& module, const std::string& dotted) {
  torch::jit::Module current = module;
  size_t begin = 0;
  while (begin <= dotted.size()) {
    const size_t dot = std::min(dotted.find('.', begin), dotted.size());
    const std::string name = dotted.substr(begin, dot - begin);
    if (name.empty() || !current.hasattr(name) || !current.attr(name).isModule()) return std::nullopt;
    current = current.attr(name).toModule();
    begin = dot + 1;
  }
  return current;
}

std::string children_text(const torch::jit::Module& module) {
  std::string text;
  for (const auto& child : module.named_children()) text += (text.empty() ? "" : ", ") + child.name;
  return text.empty() ? "none" : text;
}

torch::jit::Module head_of(const torch::jit::Module& module, const std::string& head) {
  if (auto found = find_submodule(module, head)) return *found;
  if (detail::is_frozen(module)) {
    // torch.jit.freeze inlines every weight as a constant and removes the submodules: nothing is left to train.
    throw InvalidValue(
        "the model has no parameters: it is frozen (torch.jit.freeze, which tsnative export applies by default), "
        "its weights are constants and it has no '" +
        head +
        "' submodule left to replace. Export it unfrozen: tsnative export MODEL OUT --no-optimize, "
        "or tsnative.export(..., optimize=False)");
  }
  throw InvalidValue("head: the model has no submodule '" + head + "' (its children: " + children_text(module) +
                     "); name the classifier with --head / head=");
}

at::Tensor parameter_of(const torch::jit::Module& head_module, const std::string& head, const std::string& name,
                        int64_t dim) {
  for (const auto& parameter : head_module.named_parameters(/*recurse=*/false)) {
    if (parameter.name == name && parameter.value.dim() == dim) return parameter.value;
  }
  throw InvalidValue("head: '" + head + "' is not a Linear layer: it needs a " + std::to_string(dim) +
                     "-D parameter '" + name + "' (nn.Linear with bias=True)");
}

// Each tensor once (told apart by its impl), so a parameter shared by two modules is optimised and counted once.
std::vector<at::Tensor> unique_tensors(const std::vector<at::Tensor>& tensors) {
  std::unordered_set<const void*> seen;
  std::vector<at::Tensor> unique;
  for (const auto& tensor : tensors) {
    if (seen.insert(tensor.unsafeGetTensorImpl()).second) unique.push_back(tensor);
  }
  return unique;
}

std::vector<at::Tensor> parameters_of(const torch::jit::Module& module) {
  std::vector<at::Tensor> tensors;
  for (const auto& parameter : module.parameters()) tensors.push_back(parameter);
  return unique_tensors(tensors);
}

int64_t element_count(const std::vector<at::Tensor>& tensors) {
  int64_t count = 0;
  for (const auto& tensor : tensors) count += tensor.numel();
  return count;
}

std::string forward_input_name(const torch::jit::Module& module, const std::string& path) {
  const auto forward = module.find_method("forward");
  if (!forward) throw InvalidValue("cannot fine-tune '" + path + "': it has no forward method");
  const auto& arguments = forward->function().getSchema().arguments();
  return arguments.size() > 1 ? arguments[1].name() : "input";  // arguments[0] is self
}

// The logits of one batch; the model must return a [batch, classes] tensor.
at::Tensor logits(torch::jit::Module& module, const at::Tensor& images, int64_t classes) {
  c10::IValue output;
  try {
    output = module.forward({images});
  } catch (const c10::Error& e) {
    throw InferenceError(detail::message_of(e));
  } catch (const std::exception& e) {
    throw InferenceError(e.what());
  }
  if (!output.isTensor() || output.toTensor().dim() != 2 || output.toTensor().size(1) != classes) {
    const std::string got = output.isTensor() ? "a tensor of shape " + std::string(c10::str(output.toTensor().sizes()))
                                              : "a " + output.tagKind();
    throw InvalidValue("the model returned " + got + " for a batch; fine-tuning needs logits of shape [batch, " +
                       std::to_string(classes) + "] from the head (is the head the model's last layer?)");
  }
  return output.toTensor();
}

struct Totals {
  double loss_sum = 0.0;
  int64_t correct = 0;
  int64_t seen = 0;
  void add(const at::Tensor& output, const at::Tensor& labels, double batch_loss) {
    const int64_t count = labels.size(0);
    loss_sum += batch_loss * static_cast<double>(count);
    correct += output.argmax(1).eq(labels).sum().item<int64_t>();
    seen += count;
  }
  double loss() const { return seen ? loss_sum / static_cast<double>(seen) : 0.0; }
  double accuracy() const { return seen ? static_cast<double>(correct) / static_cast<double>(seen) : 0.0; }
};

// Loss and accuracy on `data`, in order, in eval mode and without gradients.
Totals evaluate(torch::jit::Module& module, const ImageDataset& data, int64_t batch_size, int64_t classes) {
  at::NoGradGuard no_grad;  // thread-local: set here, on the thread that runs the model
  module.eval();
  Totals totals;
  for (int64_t begin = 0; begin < data.size(); begin += batch_size) {
    const int64_t end = std::min(begin + batch_size, data.size());
    const at::Tensor labels = data.labels.slice(0, begin, end);
    const at::Tensor output = logits(module, normalize_images(data.images.slice(0, begin, end)), classes);
    totals.add(output, labels, at::nll_loss(at::log_softmax(output, 1), labels).item<double>());
  }
  return totals;
}

// One pass over `data` in a shuffled order, one optimizer step per batch.
Totals train_epoch(torch::jit::Module& module, const ImageDataset& data, const FinetuneOptions& options,
                   torch::optim::Optimizer& optimizer, at::Generator& generator) {
  set_training_mode(module, options.head, parse_trainable(options.trainable));
  const at::Tensor order = at::randperm(data.size(), generator, at::kLong);
  Totals totals;
  for (int64_t begin = 0; begin < data.size(); begin += options.batch_size) {
    const at::Tensor rows = order.slice(0, begin, std::min(begin + options.batch_size, data.size()));
    const at::Tensor labels = data.labels.index_select(0, rows);
    const at::Tensor output = logits(module, normalize_images(data.images.index_select(0, rows)), options.classes);
    // nll_loss of log_softmax, as the seed: cross-entropy on the logits.
    const at::Tensor loss = at::nll_loss(at::log_softmax(output, 1), labels);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    totals.add(output.detach(), labels, loss.item<double>());
  }
  return totals;
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::vector<at::Tensor>& parameters,
                                                        const FinetuneOptions& options) {
  if (parse_optimizer(options.optimizer) == Optimizer::kSgd) {
    return std::make_unique<torch::optim::SGD>(
        parameters, torch::optim::SGDOptions(options.lr).momentum(options.momentum).weight_decay(options.weight_decay));
  }
  return std::make_unique<torch::optim::Adam>(parameters,
                                              torch::optim::AdamOptions(options.lr).weight_decay(options.weight_decay));
}

void check_options(const FinetuneOptions& options) {
  auto require = [](bool ok, const std::string& message) {
    if (!ok) throw InvalidValue(message);
  };
  require(options.classes >= 1, "classes: expected at least 1, got " + std::to_string(options.classes));
  require(options.epochs >= 1, "epochs: expected at least 1, got " + std::to_string(options.epochs));
  require(options.lr > 0, "lr: expected a positive learning rate, got " + std::to_string(options.lr));
  require(options.batch_size >= 1, "batch_size: expected at least 1, got " + std::to_string(options.batch_size));
  require(options.size >= 1, "size: expected a positive image size, got " + std::to_string(options.size));
  require(options.momentum >= 0, "momentum: expected >= 0, got " + std::to_string(options.momentum));
  require(options.weight_decay >= 0, "weight_decay: expected >= 0, got " + std::to_string(options.weight_decay));
  require(!options.threads || *options.threads >= 1,
          "threads: expected a positive count, got " + std::to_string(options.threads.value_or(0)));
  parse_trainable(options.trainable);  // refused before anything is read
  parse_optimizer(options.optimizer);
  require(!options.out.empty(), "out: expected a file path for the fine-tuned model");
}

void check_data(const ImageDataset& data, const char* role, const FinetuneOptions& options) {
  const std::string name = std::string(role) + " data";
  if (!data.images.defined() || data.images.dim() != 4 || data.images.size(1) != 3 ||
      data.images.scalar_type() != at::kByte || !data.labels.defined() || data.labels.size(0) != data.images.size(0)) {
    throw InvalidValue(name + ": expected uint8 images [N, 3, H, W] and N labels (see load_image_dataset)");
  }
  if (data.size() == 0) throw InvalidValue(name + ": no images");
  if (data.images.size(2) != options.size || data.images.size(3) != options.size) {
    throw InvalidValue(name + ": images are " + std::to_string(data.images.size(2)) + "x" +
                       std::to_string(data.images.size(3)) + ", but size is " + std::to_string(options.size));
  }
  const int64_t low = data.labels.min().item<int64_t>();
  const int64_t high = data.labels.max().item<int64_t>();
  if (low < 0 || high >= options.classes) {
    throw InvalidValue(name + ": class indices run from " + std::to_string(low) + " to " + std::to_string(high) +
                       ", outside 0 to " + std::to_string(options.classes - 1));
  }
}

// The output is checked before anything is trained: its folder exists or can be made, it is not a folder itself,
// and a file can be written there (the save at the end of the first epoch would otherwise be the first to fail).
void check_output(const std::string& out) {
  const fs::path path(out);
  std::error_code error;
  if (fs::is_directory(path, error)) throw InvalidValue("out: '" + out + "' is a folder; expected a file path");
  if (const auto folder = path.parent_path(); !folder.empty()) {
    fs::create_directories(folder, error);
    if (error) throw InvalidValue("out: cannot create the folder '" + folder.string() + "' (" + error.message() + ")");
  }
  const std::string probe = out + ".partial";
  {
    std::ofstream file(probe, std::ios::binary | std::ios::app);
    if (!file) throw InvalidValue("out: cannot write a file at '" + out + "' (" + std::strerror(errno) + ")");
  }
  fs::remove(probe, error);
}

// The caller's process-wide state, put back when fine-tuning ends: the default generator (seeded for dropout and
// anything else that draws from it) and LibTorch's thread count.
class GlobalStateGuard {
 public:
  GlobalStateGuard() : threads_(at::get_num_threads()) {
    auto generator = at::detail::getDefaultCPUGenerator();
    const std::lock_guard<std::mutex> lock(generator.mutex());
    rng_state_ = generator.get_state();
  }
  ~GlobalStateGuard() {
    auto generator = at::detail::getDefaultCPUGenerator();
    const std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(rng_state_);
    if (at::get_num_threads() != threads_) at::set_num_threads(threads_);
  }
  GlobalStateGuard(const GlobalStateGuard&) = delete;
  GlobalStateGuard& operator=(const GlobalStateGuard&) = delete;

 private:
  int threads_;
  at::Tensor rng_state_;
};

// Writes atomically: a failed save leaves the previous best in place.
void save_model(const torch::jit::Module& module, const std::string& out, const std::string& metadata_json) {
  const std::string partial = out + ".partial";
  module.save(partial, {{kMetadataFile, metadata_json}});
  fs::rename(partial, out);
}

}  // namespace

Trainable parse_trainable(const std::string& text) {
  if (text == "head") return Trainable::kHead;
  if (text == "all") return Trainable::kAll;
  throw InvalidValue("trainable: expected \"head\" or \"all\", got \"" + text + "\"");
}

Optimizer parse_optimizer(const std::string& text) {
  if (text == "adam") return Optimizer::kAdam;
  if (text == "sgd") return Optimizer::kSgd;
  throw InvalidValue("optimizer: expected \"adam\" or \"sgd\", got \"" + text + "\"");
}

std::string to_string(Trainable trainable) { return trainable == Trainable::kHead ? "head" : "all"; }
std::string to_string(Optimizer optimizer) { return optimizer == Optimizer::kAdam ? "adam" : "sgd"; }

int64_t replace_head(torch::jit::Module& module, const std::string& head, int64_t classes, at::Generator& generator) {
  if (classes < 1) throw InvalidValue("classes: expected at least 1, got " + std::to_string(classes));
  torch::jit::Module head_module = head_of(module, head);
  const at::Tensor weight = parameter_of(head_module, head, "weight", 2);
  const at::Tensor bias = parameter_of(head_module, head, "bias", 1);
  const int64_t inputs = weight.size(1);
  // nn.Linear's initialisation: kaiming_uniform(a=sqrt(5)) on the weight is uniform in +-1/sqrt(fan_in), and so is
  // the bias. Same dtype and device as the old head.
  const double bound = 1.0 / std::sqrt(static_cast<double>(inputs));
  at::Tensor new_weight = at::empty({classes, inputs}, weight.options().requires_grad(false));
  at::Tensor new_bias = at::empty({classes}, bias.options().requires_grad(false));
  new_weight.uniform_(-bound, bound, generator);
  new_bias.uniform_(-bound, bound, generator);
  // Same names, same TorchScript type (an unshaped Tensor): the compiled forward, which reads self.fc.weight and
  // self.fc.bias, stays valid with the new shapes. Registering a new submodule of another type would not.
  head_module.register_parameter("weight", new_weight, /*is_buffer=*/false);
  head_module.register_parameter("bias", new_bias, /*is_buffer=*/false);
  return inputs;
}

std::vector<at::Tensor> set_trainable(torch::jit::Module& module, const std::string& head, Trainable trainable) {
  const torch::jit::Module head_module = head_of(module, head);
  for (auto parameter : module.parameters()) parameter.set_requires_grad(trainable == Trainable::kAll);
  for (auto parameter : head_module.parameters()) parameter.set_requires_grad(true);
  return parameters_of(trainable == Trainable::kAll ? module : head_module);
}

void set_training_mode(torch::jit::Module& module, const std::string& head, Trainable trainable) {
  if (trainable == Trainable::kAll) {
    module.train();
    return;
  }
  module.eval();
  head_of(module, head).train();
}

FinetuneResult finetune(const std::string& model_path, const std::string& train_source, const std::string& test_source,
                        const FinetuneOptions& options, const ProgressCallback& progress) {
  check_options(options);
  if (!fs::exists(model_path)) throw FileNotFound(model_path);  // before seconds spent decoding images
  check_output(options.out);
  const GlobalStateGuard restore_global_state;  // the thread count also applies to decoding the images
  if (options.threads) at::set_num_threads(*options.threads);
  const auto start = Clock::now();
  const ImageDataset train = load_image_dataset(train_source, options.classes, options.size);
  const ImageDataset test = load_image_dataset(test_source, options.classes, options.size);
  if (train.image_folder && test.image_folder && train.class_names != test.class_names) {
    throw DataError(test_source, 0,
                    "its class folders differ from the training folder's (" + train_source +
                        "); both need the same class names, numbered in sorted order");
  }
  const double data_seconds = detail::seconds_since(start);
  FinetuneResult result = finetune(model_path, train, test, options, progress);
  result.load_seconds += data_seconds;
  return result;
}

namespace {

// What the caller's progress callback threw (a Python KeyboardInterrupt, say): passed on as it is, not translated.
struct ProgressFailure {
  std::exception_ptr error;
};

FinetuneResult finetune_checked(const std::string& model_path, const ImageDataset& train, const ImageDataset& test,
                                const FinetuneOptions& options, const ProgressCallback& progress) {
  check_options(options);
  check_data(train, "train", options);
  check_data(test, "test", options);
  check_output(options.out);
  const GlobalStateGuard restore_global_state;
  if (options.threads) at::set_num_threads(*options.threads);
  const auto start = Clock::now();
  std::string metadata_json;
  torch::jit::Module module = detail::load_checked(model_path, c10::Device(c10::kCPU), "", 0, metadata_json);
  metadata_json = detail::original_metadata(model_path, metadata_json);  // refused before training, not after
  const std::string input_name = forward_input_name(module, model_path);

  {
    // Dropout and anything else drawing from the default CPU generator (at::manual_seed would also reseed every
    // GPU's generator, which GlobalStateGuard does not restore; training runs on the CPU).
    auto cpu_generator = at::detail::getDefaultCPUGenerator();
    const std::lock_guard<std::mutex> lock(cpu_generator.mutex());
    cpu_generator.set_current_seed(options.seed);
  }
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(options.seed);  // head init, then shuffling
  FinetuneResult result;
  try {
    result.head_inputs = replace_head(module, options.head, options.classes, generator);
  } catch (const InvalidValue& e) {
    throw InvalidValue("cannot fine-tune '" + model_path + "': " + e.what());
  }
  const auto trainable = set_trainable(module, options.head, parse_trainable(options.trainable));
  auto optimizer = make_optimizer(trainable, options);
  result.out = options.out;
  result.class_names = train.image_folder ? train.class_names : test.class_names;
  result.train_images = train.size();
  result.test_images = test.size();
  result.trainable_parameters = element_count(trainable);
  result.total_parameters = element_count(parameters_of(module));
  result.load_seconds = detail::seconds_since(start);

  const detail::FinetuneRecord record{
      model_path, metadata_json, module.type()->name()->name(), input_name, train.source, test.source, options, result};
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    const auto epoch_start = Clock::now();
    const Totals trained = train_epoch(module, train, options, *optimizer, generator);
    EpochStats stats;
    stats.epoch = epoch;
    stats.train_loss = trained.loss();
    stats.train_accuracy = trained.accuracy();
    stats.train_seconds = detail::seconds_since(epoch_start);
    const Totals tested = evaluate(module, test, options.batch_size, options.classes);
    stats.test_loss = tested.loss();
    stats.test_accuracy = tested.accuracy();
    stats.best = result.best_epoch == 0 || stats.test_accuracy > result.best_test_accuracy;
    if (stats.best) {
      result.best_epoch = epoch;
      result.best_test_accuracy = stats.test_accuracy;
    }
    stats.seconds = detail::seconds_since(epoch_start);
    result.history.push_back(stats);
    // Saved in eval mode (evaluate() left it there), so the file runs as an inference model.
    if (stats.best) save_model(module, options.out, detail::finetuned_metadata(record));
    if (progress) {
      try {
        progress(stats);
      } catch (...) {
        throw ProgressFailure{std::current_exception()};
      }
    }
  }
  // The file holds the best epoch's weights; its metadata should hold the whole history, epochs after it included.
  if (result.best_epoch != options.epochs) {
    std::string ignored;
    save_model(detail::load_checked(options.out, c10::Device(c10::kCPU), "", 0, ignored), options.out,
               detail::finetuned_metadata(record));
  }
  return result;
}

}  // namespace

FinetuneResult finetune(const std::string& model_path, const ImageDataset& train, const ImageDataset& test,
                        const FinetuneOptions& options, const ProgressCallback& progress) {
  try {
    return finetune_checked(model_path, train, test, options, progress);
  } catch (const ProgressFailure& failure) {
    std::rethrow_exception(failure.error);
  } catch (const Error&) {
    throw;
  } catch (const fs::filesystem_error& e) {
    throw Error("cannot write the fine-tuned model '" + options.out + "': " + e.code().message());
  } catch (const std::exception& e) {
    // LibTorch while training (a loss, backward, an optimizer step, a save): one line, never a C++ backtrace.
    throw InferenceError("fine-tuning failed: " + detail::cause_of(e), e.what());
  }
}

}  // namespace tsnative
