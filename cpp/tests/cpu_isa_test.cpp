// Refusing an AOTInductor package compiled for instructions this CPU lacks (cpp/src/backends/aoti/cpu_isa.h).
#include "backends/aoti/cpu_isa.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace tsnative::detail {
namespace {

TEST(CpuIsa, NamesTheFeaturesAnAvx2CpuLacks) {
  const std::set<std::string> avx2_cpu{"avx2", "fma", "f16c"};
  const auto has = [&](const std::string& feature) { return avx2_cpu.count(feature) > 0; };
  EXPECT_TRUE(missing_cpu_features(isa_features("AVX2"), has).empty());
  EXPECT_EQ(missing_cpu_features(isa_features("AVX512 AVX512_VNNI"), has),
            (std::vector<std::string>{"avx512f", "avx512dq", "avx512vl", "avx512bw", "avx512vnni"}));
  EXPECT_EQ(isa_features("avx512"), isa_features("AVX512"));  // Inductor's words in either case
  EXPECT_TRUE(isa_features("").empty());
  EXPECT_TRUE(isa_features("NEON SOMETHING_NEW").empty());  // words it does not know: nothing checked
  EXPECT_EQ(missing_cpu_features({"avx512bf16", "avx2", "avx512bf16"}, has), (std::vector<std::string>{"avx512bf16"}));
}

TEST(CpuIsa, TheFeaturesMarchNativeAddsOnAvx512CpusAreRecorded) {
  // An export on a CPU with these records them, so that a load on a CPU without them is refused, not killed.
  const std::vector<std::string> later{"avx512vpopcntdq", "avx512bitalg", "gfni", "vaes", "vpclmulqdq"};
  const auto own = cpu_features();
  for (const auto& feature : later) {
    const bool recorded = std::find(own.begin(), own.end(), feature) != own.end();
    EXPECT_EQ(recorded, cpu_has(feature)) << feature;  // a feature the table lacks counts as present: never recorded
  }
  const auto has_avx512_only = [](const std::string& feature) { return feature.rfind("avx512", 0) == 0; };
  EXPECT_EQ(missing_cpu_features({"gfni", "vaes", "avx512bitalg"}, has_avx512_only),
            (std::vector<std::string>{"gfni", "vaes"}));
}

TEST(CpuIsa, ThisCpusOwnFeaturesAreNeverMissing) {
  // What an export on this CPU records is what a load on it finds: a package made here loads here.
  const auto own = cpu_features();
  EXPECT_TRUE(missing_cpu_features(own, cpu_has).empty());
  EXPECT_TRUE(cpu_has("a-feature-this-build-cannot-test"));  // unknown: not refused
}

}  // namespace
}  // namespace tsnative::detail
