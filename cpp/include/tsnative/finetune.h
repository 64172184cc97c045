// Fine-tuning a TorchScript classifier in C++: replace its head with one for N classes, train (the head alone or
// every parameter) on labelled images, keep the epoch with the best test accuracy as a TorchScript file that
// tsnative::Engine, ts-infer and Python load directly. ts-train and tsnative.finetune are thin clients of this.
// Light on purpose (no torch headers); the building blocks for a loop of one's own are in finetune_steps.h.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tsnative/options.h"

namespace tsnative {

struct ImageDataset;  // tsnative/image_dataset.h

enum class Trainable { kHead, kAll };  // train the new head alone (backbone frozen, in eval mode), or everything
enum class Optimizer { kAdam, kSgd };

// Every option of fine-tuning, declared once: tsnative.finetune's keywords (bind_finetune.cpp), ts-train's flags
// and the settings recorded in the model and printed by ts-train --json are made from describe().
struct FinetuneOptions {
  int64_t classes = 0;
  int epochs = 5;
  double lr = 1e-3;
  int64_t batch_size = 32;
  int64_t size = 224;
  std::string trainable = "head";  // parse_trainable
  std::string optimizer = "adam";  // parse_optimizer
  double momentum = 0.9;
  double weight_decay = 0.0;
  std::string head = "fc";
  uint64_t seed = 0;
  std::optional<int> threads{};
  std::string out = "best.pt";

  template <class Visitor>
  static void describe(Visitor&& visit) {
    using O = FinetuneOptions;
    visit(OptionInfo{.name = "classes", .help = "classes of the new head", .minimum = 1, .required = true},
          &O::classes);
    visit(OptionInfo{.name = "epochs", .help = "passes over the training data", .minimum = 1}, &O::epochs);
    visit(OptionInfo{.name = "lr", .help = "learning rate", .minimum = 0, .above = true}, &O::lr);
    visit(OptionInfo{.name = "batch_size",
                     .help = "images per training step (the last batch of an epoch may be smaller)",
                     .aliases = "--batch",
                     .minimum = 1},
          &O::batch_size);
    visit(OptionInfo{.name = "size", .help = "images are resized to size x size", .minimum = 1}, &O::size);
    visit(
        OptionInfo{.name = "trainable",
                   .help = "\"head\": the new head alone (the backbone frozen, in eval mode); \"all\": every parameter",
                   .choices = "head|all"},
        &O::trainable);
    visit(OptionInfo{.name = "optimizer", .help = "\"adam\" or \"sgd\"", .choices = "adam|sgd"}, &O::optimizer);
    visit(OptionInfo{.name = "momentum", .help = "SGD momentum", .minimum = 0}, &O::momentum);
    visit(OptionInfo{.name = "weight_decay", .help = "L2 penalty, both optimizers", .minimum = 0}, &O::weight_decay);
    visit(OptionInfo{.name = "head",
                     .help = "the classifier submodule to replace, a Linear layer; dotted for nested ones "
                             "(\"classifier.6\")"},
          &O::head);
    visit(OptionInfo{.name = "seed", .help = "head initialisation, shuffling and dropout: same seed, same history"},
          &O::seed);
    visit(OptionInfo{.name = "threads",
                     .help = "intra-op threads while fine-tuning (restored when it returns; default: the process's)",
                     .minimum = 1},
          &O::threads);
    visit(OptionInfo{.name = "out", .help = "where the best epoch's model is written (replaced at each new best)"},
          &O::out);
  }
};

// Parses "head" / "all" and "adam" / "sgd"; throws InvalidValue naming the accepted values.
Trainable parse_trainable(const std::string& text);
Optimizer parse_optimizer(const std::string& text);
std::string to_string(Trainable trainable);
std::string to_string(Optimizer optimizer);

struct EpochStats {
  int epoch = 0;                // 1-based
  double train_loss = 0.0;      // mean over the epoch's training images, as trained (weights changing)
  double train_accuracy = 0.0;  // fraction in [0, 1]
  double test_loss = 0.0;       // after the epoch, in eval mode, without gradients
  double test_accuracy = 0.0;
  double train_seconds = 0.0;
  double seconds = 0.0;  // training and evaluation
  bool best = false;     // the best test accuracy so far: this epoch's model was written to `out`
};

struct FinetuneResult {
  std::vector<EpochStats> history;
  int best_epoch = 0;
  double best_test_accuracy = 0.0;
  std::string out;
  std::vector<std::string> class_names;
  int64_t train_images = 0;
  int64_t test_images = 0;
  int64_t head_inputs = 0;  // in_features of the new head
  int64_t trainable_parameters = 0;
  int64_t total_parameters = 0;
  double load_seconds = 0.0;  // reading the model and decoding the images
};

// The per-epoch history as a JSON array (text), the form the saved metadata and ts-train --json both use.
std::string history_json(const std::vector<EpochStats>& history);

// Called after each epoch, on the thread that called finetune(); an exception thrown from it stops training.
using ProgressCallback = std::function<void(const EpochStats&)>;

// Fine-tunes the TorchScript file `model_path` on `train_source`, evaluating on `test_source` after each epoch
// (each a map file or an image folder, see load_image_dataset). The model must be saved unfrozen (tsnative export
// --no-optimize): a frozen module has no head to replace. Throws FileNotFound, ModelLoadError, DataError, and
// InvalidValue for bad options or a model without a usable head.
FinetuneResult finetune(const std::string& model_path, const std::string& train_source, const std::string& test_source,
                        const FinetuneOptions& options, const ProgressCallback& progress = {});

// The same on data already in memory (uint8 images, see ImageDataset).
FinetuneResult finetune(const std::string& model_path, const ImageDataset& train, const ImageDataset& test,
                        const FinetuneOptions& options, const ProgressCallback& progress = {});

}  // namespace tsnative
