// The tsnative.json metadata of a fine-tuned model: the export's record, updated for the new head, plus the
// fine-tuning settings and history, so tsnative.Engine, tsnative info and ts-infer read the file like an export.
#pragma once

#include <string>

#include "tsnative/finetune.h"

namespace tsnative::detail {

struct FinetuneRecord {
  std::string model_path;
  std::string original_metadata;  // the input file's tsnative.json, "" when it has none
  std::string model_type;         // the TorchScript class name, for a file without metadata
  std::string input_name;         // forward's first argument, for a file without metadata
  std::string train_source;
  std::string test_source;
  const FinetuneOptions& options;
  const FinetuneResult& result;
};

// The model file's metadata checked (checked_metadata) before anything is trained on it: a file whose metadata this
// version cannot read (not tsnative's, or from a newer tsnative) cannot have it rewritten. Throws ModelLoadError.
std::string original_metadata(const std::string& model_path, const std::string& metadata_json);

// The text to store as the file's tsnative.json (metadata_text). Throws ModelLoadError as original_metadata does.
std::string finetuned_metadata(const FinetuneRecord& record);

}  // namespace tsnative::detail
