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

// The JSON text to store as kMetadataFile. Throws ModelLoadError when the original metadata is not JSON.
std::string finetuned_metadata(const FinetuneRecord& record);

}  // namespace tsnative::detail
