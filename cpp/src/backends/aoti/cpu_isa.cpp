#include "backends/aoti/cpu_isa.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>
#include <utility>

namespace tsnative::detail {
namespace {

// (name, whether this CPU has it): __builtin_cpu_supports takes string literals only, so each name is written twice.
#define TSNATIVE_FEATURE(name) {name, __builtin_cpu_supports(name) != 0}

const std::vector<std::pair<std::string, bool>>& feature_table() {
#if defined(__x86_64__) || defined(__i386__)
  static const std::vector<std::pair<std::string, bool>> table{
      TSNATIVE_FEATURE("sse4.2"),
      TSNATIVE_FEATURE("popcnt"),
      TSNATIVE_FEATURE("avx"),
      TSNATIVE_FEATURE("avx2"),
      TSNATIVE_FEATURE("fma"),
      TSNATIVE_FEATURE("f16c"),
      TSNATIVE_FEATURE("bmi"),
      TSNATIVE_FEATURE("bmi2"),
      TSNATIVE_FEATURE("avx512f"),
      TSNATIVE_FEATURE("avx512dq"),
      TSNATIVE_FEATURE("avx512cd"),
      TSNATIVE_FEATURE("avx512bw"),
      TSNATIVE_FEATURE("avx512vl"),
      TSNATIVE_FEATURE("avx512vnni"),
      TSNATIVE_FEATURE("avx512bf16"),
      TSNATIVE_FEATURE("avx512vbmi"),
      TSNATIVE_FEATURE("avx512vbmi2"),
      TSNATIVE_FEATURE("avx512ifma"),
      TSNATIVE_FEATURE("avx512fp16"),
      TSNATIVE_FEATURE("avxvnni"),
      TSNATIVE_FEATURE("amx-tile"),
      TSNATIVE_FEATURE("amx-int8"),
      TSNATIVE_FEATURE("amx-bf16"),
      // -march=native also enables these where the CPU has them (Zen 4 and Ice Lake have all of them), and the
      // compiler may use them in any kernel.
      TSNATIVE_FEATURE("avx512vpopcntdq"),
      TSNATIVE_FEATURE("avx512bitalg"),
      TSNATIVE_FEATURE("avx512vp2intersect"),
      TSNATIVE_FEATURE("gfni"),
      TSNATIVE_FEATURE("vaes"),
      TSNATIVE_FEATURE("vpclmulqdq"),
      TSNATIVE_FEATURE("aes"),
      TSNATIVE_FEATURE("pclmul"),
      TSNATIVE_FEATURE("sha"),
      TSNATIVE_FEATURE("movbe"),
      TSNATIVE_FEATURE("adx"),
  };
#else
  static const std::vector<std::pair<std::string, bool>> table;  // not x86: nothing this build can test
#endif
  return table;
}

#undef TSNATIVE_FEATURE

// The features behind each of Inductor's ISA words (torch/_inductor/cpu_vec_isa.py: the -m flags it compiles with).
const std::map<std::string, std::vector<std::string>>& features_of_words() {
  static const std::map<std::string, std::vector<std::string>> words{
      {"avx2", {"avx2", "fma", "f16c"}},
      {"avx512", {"avx512f", "avx512dq", "avx512vl", "avx512bw", "fma"}},
      {"avx512_vnni", {"avx512vnni"}},
      {"amx_tile", {"amx-tile"}},
  };
  return words;
}

}  // namespace

std::vector<std::string> cpu_features() {
  std::vector<std::string> features;
  for (const auto& [name, present] : feature_table()) {
    if (present) features.push_back(name);
  }
  return features;
}

bool cpu_has(const std::string& feature) {
  const auto& table = feature_table();
  const auto found =
      std::find_if(table.begin(), table.end(), [&](const auto& entry) { return entry.first == feature; });
  return found == table.end() || found->second;
}

std::vector<std::string> isa_features(const std::string& isa) {
  std::vector<std::string> features;
  std::istringstream words(isa);
  for (std::string word; words >> word;) {
    std::transform(word.begin(), word.end(), word.begin(), [](unsigned char c) { return std::tolower(c); });
    const auto found = features_of_words().find(word);
    if (found != features_of_words().end()) features.insert(features.end(), found->second.begin(), found->second.end());
  }
  return features;
}

std::vector<std::string> missing_cpu_features(const std::vector<std::string>& needed,
                                              const std::function<bool(const std::string&)>& has) {
  std::vector<std::string> missing;
  for (const auto& feature : needed) {
    if (!has(feature) && std::find(missing.begin(), missing.end(), feature) == missing.end()) {
      missing.push_back(feature);
    }
  }
  return missing;
}

}  // namespace tsnative::detail
