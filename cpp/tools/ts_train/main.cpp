// ts-train: fine-tune a TorchScript classifier in C++ (tsnative::finetune) and save the best epoch.
//   ts-train --model M.pt --train train.txt --test test.txt --classes N [--epochs E] [--lr 1e-3] [--batch B]
//            [--size 224] [--trainable head|all] [--optimizer adam|sgd] [--out best.pt] [--json]
// --train / --test: a map file (image_path<TAB>class_index per line) or an image folder (root/<class>/<image>).
// Exit status: 0 done, 1 the model or data could not be used, 2 wrong usage.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "../common/option_flags.h"
#include "format/options_json.h"
#include "tsnative/errors.h"
#include "tsnative/finetune.h"

namespace tsnative::ts_train {
namespace {

struct Arguments {
  std::string model;
  std::string train;
  std::string test;
  FinetuneOptions options;
  bool json = false;
};

std::string format(const char* pattern, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, pattern, value);
  return buffer;
}

// "epoch  3/10  train loss 0.4123 acc  88.2%  test loss 0.3901 acc  89.1%   2.31 s *"
std::string epoch_line(const EpochStats& stats, int epochs) {
  const int width = static_cast<int>(std::to_string(epochs).size());
  char epoch[32];
  std::snprintf(epoch, sizeof epoch, "epoch %*d/%d", width, stats.epoch, epochs);
  return std::string(epoch) + "  train loss " + format("%.4f", stats.train_loss) + " acc " +
         format("%5.1f%%", 100 * stats.train_accuracy) + "  test loss " + format("%.4f", stats.test_loss) + " acc " +
         format("%5.1f%%", 100 * stats.test_accuracy) + "  " + format("%6.2f s", stats.seconds) +
         (stats.best ? " *" : "");
}

// 11181642 -> "11,181,642", as the Python side prints counts.
std::string grouped(int64_t count) {
  std::string digits = std::to_string(count);
  for (int at = static_cast<int>(digits.size()) - 3; at > 0; at -= 3) digits.insert(static_cast<size_t>(at), ",");
  return digits;
}

nlohmann::json result_json(const Arguments& arguments, const FinetuneResult& result) {
  const auto& options = arguments.options;
  return {{"model", arguments.model},
          {"train", arguments.train},
          {"test", arguments.test},
          {"out", result.out},
          {"settings", detail::options_json(options)},  // from FinetuneOptions::describe, as the model records
          {"class_names", result.class_names},
          {"train_images", result.train_images},
          {"test_images", result.test_images},
          {"trainable_parameters", result.trainable_parameters},
          {"total_parameters", result.total_parameters},
          {"load_seconds", result.load_seconds},
          {"best_epoch", result.best_epoch},
          {"best_test_accuracy", result.best_test_accuracy},
          {"history", nlohmann::json::parse(history_json(result.history))}};
}

int run(Arguments arguments) {
  auto& options = arguments.options;
  // With --json, stdout carries the JSON object alone; the progress goes to stderr.
  std::ostream& progress_out = arguments.json ? std::cerr : std::cout;
  progress_out << "Fine-tuning " << arguments.model << ": head '" << options.head << "' -> " << options.classes
               << " classes, trainable " << options.trainable << ", " << options.optimizer << " lr " << options.lr
               << ", batch " << options.batch_size << ", size " << options.size << ", " << options.epochs
               << " epochs, seed " << options.seed << std::endl;
  const auto result = finetune(arguments.model, arguments.train, arguments.test, options, [&](const EpochStats& stats) {
    progress_out << epoch_line(stats, options.epochs) << std::endl;
  });
  progress_out << "Best: epoch " << result.best_epoch << ", test accuracy "
               << format("%.2f%%", 100 * result.best_test_accuracy) << ", saved to " << result.out << " ("
               << grouped(result.trainable_parameters) << " of " << grouped(result.total_parameters)
               << " parameters trained; " << result.train_images << " train / " << result.test_images
               << " test images; model and data loaded in " << format("%.2f s", result.load_seconds) << ")"
               << std::endl;
  if (arguments.json) std::cout << result_json(arguments, result).dump(1) << std::endl;
  return 0;
}

}  // namespace
}  // namespace tsnative::ts_train

int main(int argc, char** argv) {
  using tsnative::ts_train::Arguments;
  Arguments arguments;
  auto& options = arguments.options;
  CLI::App app{"Fine-tune a TorchScript classifier natively (LibTorch): replace its head, train, keep the best epoch.",
               "ts-train"};
  app.set_version_flag("--version", std::string("ts-train ") + TSNATIVE_VERSION);
  app.add_option("--model", arguments.model, "TorchScript file, saved unfrozen (tsnative export --no-optimize)")
      ->required();
  app.add_option("--train", arguments.train, "training data: map file (path<TAB>class per line) or image folder")
      ->required();
  app.add_option("--test", arguments.test, "test data, evaluated after each epoch: map file or image folder")
      ->required();
  // Every fine-tuning option, from its one declaration: --classes, --epochs, --lr, --batch-size (--batch)...
  tsnative::tools::add_option_flags(app, options);
  app.add_flag("--json", arguments.json, "print the settings and history as one JSON object (progress on stderr)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --version
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "ts-train: " << e.what() << "\n"
              << "usage: ts-train --model M.pt --train TRAIN --test TEST --classes N [--epochs E] [--lr LR] "
                 "[--batch B] [--size S] [--trainable head|all] [--out best.pt] [--json]   (--help for more)"
              << std::endl;
    return 2;
  }
  try {
    return tsnative::ts_train::run(arguments);
  } catch (const std::exception& e) {
    std::cerr << "Error: " << tsnative::error_line(e) << std::endl;
    return 1;
  }
}
