#include "tsnative/load_report.h"

#include "tsnative/errors.h"

namespace tsnative {

const char* fusion_mode_name(FusionMode mode) {
  switch (mode) {
    case FusionMode::kAuto:
      return "auto";
    case FusionMode::kOn:
      return "on";
    case FusionMode::kOff:
      break;
  }
  return "off";
}

FusionMode parse_fusion_mode(const std::string& name) {
  if (name == "auto") return FusionMode::kAuto;
  if (name == "on") return FusionMode::kOn;
  if (name == "off") return FusionMode::kOff;
  throw InvalidValue("onednn_fusion: expected \"auto\", \"on\" or \"off\", got \"" + name + "\"");
}

}  // namespace tsnative
