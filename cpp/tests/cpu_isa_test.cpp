// Refusing an AOTInductor package compiled for instructions this CPU lacks (cpp/src/cpu_isa.h).
#include "../src/cpu_isa.h"

#include <gtest/gtest.h>

#include <set>

namespace tsnative::detail {
namespace {

TEST(CpuIsa, NamesTheFeaturesAnAvx2CpuLacks) {
  const std::set<std::string> avx2_cpu{"avx2", "fma"};
  const auto has = [&](const std::string& feature) { return avx2_cpu.count(feature) > 0; };
  EXPECT_TRUE(missing_cpu_features("AVX2", has).empty());
  EXPECT_EQ(missing_cpu_features("AVX512 AVX512_VNNI", has),
            (std::vector<std::string>{"avx512f", "avx512dq", "avx512vl", "avx512bw", "avx512vnni"}));
  EXPECT_EQ(missing_cpu_features("avx512", has).size(), 4u);  // Inductor's words in either case
  EXPECT_TRUE(missing_cpu_features("", has).empty());
  EXPECT_TRUE(missing_cpu_features("NEON SOMETHING_NEW", has).empty());  // words it does not know: not checked
}

}  // namespace
}  // namespace tsnative::detail
