#include "train/finetune_metadata.h"

#include <torch/headeronly/version.h>

#include <ctime>
#include <nlohmann/json.hpp>

#include "format/options_json.h"
#include "tsnative/errors.h"
#include "tsnative/image_dataset.h"
#include "tsnative/metadata.h"

namespace tsnative {
namespace {

// Ordered: entries in the order written here, after those of the export's record (see metadata_text).
using json = nlohmann::ordered_json;

json epochs_json(const std::vector<EpochStats>& history) {
  json epochs = json::array();
  for (const auto& stats : history) {
    epochs.push_back({{"epoch", stats.epoch},
                      {"train_loss", stats.train_loss},
                      {"train_accuracy", stats.train_accuracy},
                      {"test_loss", stats.test_loss},
                      {"test_accuracy", stats.test_accuracy},
                      {"train_seconds", stats.train_seconds},
                      {"seconds", stats.seconds},
                      {"best", stats.best}});
  }
  return epochs;
}

}  // namespace

std::string history_json(const std::vector<EpochStats>& history) { return epochs_json(history).dump(); }

namespace detail {
namespace {

// "2026-11-23T01:06:00+00:00", the form tsnative.export writes (Python's isoformat of a UTC time).
std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S+00:00", &utc);
  return text;
}

json finetune_json(const FinetuneRecord& record) {
  const auto& options = record.options;
  const auto& result = record.result;
  const json history = epochs_json(result.history);
  // The settings from their one declaration (FinetuneOptions::describe), as ts-train --json prints them.
  const json settings = options_json(options);
  return {{"from", record.model_path},
          {"settings", settings},
          {"class_names", result.class_names},
          {"preprocessing",
           {{"resize", {options.size, options.size}},
            {"mean", {kImageNetMean[0], kImageNetMean[1], kImageNetMean[2]}},
            {"std", {kImageNetStd[0], kImageNetStd[1], kImageNetStd[2]}}}},
          {"train", {{"source", record.train_source}, {"images", result.train_images}}},
          {"test", {{"source", record.test_source}, {"images", result.test_images}}},
          {"trainable_parameters", result.trainable_parameters},
          {"best_epoch", result.best_epoch},
          {"best_test_accuracy", result.best_test_accuracy},
          {"history", history}};
}

}  // namespace

std::string original_metadata(const std::string& model_path, const std::string& metadata_json) {
  try {
    return checked_metadata(metadata_json);
  } catch (const InvalidValue& e) {
    throw ModelLoadError(model_path, e.what());
  }
}

std::string finetuned_metadata(const FinetuneRecord& record) {
  const auto& options = record.options;
  const std::string original = original_metadata(record.model_path, record.original_metadata);
  // A file without metadata gets what can be said of it; metadata_text stamps the format.
  json metadata = original.empty() ? json::object({{"model", record.model_type}, {"export_mode", "unknown"}})
                                   : json::parse(original);
  // The model was trained and evaluated on batches of size x size images: that is what it now expects.
  const json image = {{"name", record.input_name},
                      {"type", "Tensor"},
                      {"dtype", "float32"},
                      {"shape", {-1, 3, options.size, options.size}}};
  json inputs = metadata.value("inputs", json::array());
  if (inputs.size() == 1 && inputs[0].value("type", "") == "Tensor") {
    inputs[0]["shape"] = image["shape"];
  } else if (inputs.empty()) {
    inputs = json::array({image});
  }
  metadata["inputs"] = inputs;
  metadata["outputs"] = {{"type", "Tensor"}, {"dtype", "float32"}, {"shape", {-1, options.classes}}};
  metadata["dynamic_batch"] = true;
  metadata["batch"] = "dynamic: fine-tuned on batches of " + std::to_string(options.batch_size);
  metadata["optimizations"] = json::array();  // saved unfrozen: it can be fine-tuned again
  metadata["parameters"] = record.result.total_parameters;
  metadata["torch_version"] = TORCH_VERSION;
  metadata["tsnative_version"] = TSNATIVE_VERSION;
  metadata["created"] = utc_now();
  metadata["finetune"] = finetune_json(record);
  return metadata_text(metadata.dump());
}

}  // namespace detail
}  // namespace tsnative
