#include "cpu_isa.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>

namespace tsnative::detail {
namespace {

// The features behind each of Inductor's ISA words (torch/_inductor/cpu_vec_isa.py: the -m flags it compiles with).
const std::map<std::string, std::vector<std::string>>& features_of_words() {
  static const std::map<std::string, std::vector<std::string>> words{
      {"avx2", {"avx2", "fma"}},
      {"avx512", {"avx512f", "avx512dq", "avx512vl", "avx512bw", "fma"}},
      {"avx512_vnni", {"avx512vnni"}},
      {"amx_tile", {"amx-tile"}},
  };
  return words;
}

}  // namespace

std::vector<std::string> missing_cpu_features(const std::string& isa,
                                              const std::function<bool(const std::string&)>& has) {
  std::vector<std::string> missing;
  std::istringstream words(isa);
  for (std::string word; words >> word;) {
    std::transform(word.begin(), word.end(), word.begin(), [](unsigned char c) { return std::tolower(c); });
    const auto found = features_of_words().find(word);
    if (found == features_of_words().end()) continue;
    for (const auto& feature : found->second) {
      if (!has(feature) && std::find(missing.begin(), missing.end(), feature) == missing.end()) {
        missing.push_back(feature);
      }
    }
  }
  return missing;
}

bool cpu_has(const std::string& feature) {
#if defined(__x86_64__) || defined(__i386__)
  // __builtin_cpu_supports takes string literals only.
  if (feature == "avx2") return __builtin_cpu_supports("avx2");
  if (feature == "fma") return __builtin_cpu_supports("fma");
  if (feature == "avx512f") return __builtin_cpu_supports("avx512f");
  if (feature == "avx512dq") return __builtin_cpu_supports("avx512dq");
  if (feature == "avx512vl") return __builtin_cpu_supports("avx512vl");
  if (feature == "avx512bw") return __builtin_cpu_supports("avx512bw");
  if (feature == "avx512vnni") return __builtin_cpu_supports("avx512vnni");
  if (feature == "amx-tile") return __builtin_cpu_supports("amx-tile");
#endif
  (void)feature;
  return true;  // a feature this build cannot test: not refused
}

}  // namespace tsnative::detail
