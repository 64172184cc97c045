// Whether this CPU runs code compiled on another: Inductor compiles an AOTInductor package's kernels with
// -march=native, for the CPU that exported it, and running them on a CPU without those instructions kills the
// process (illegal instruction). tsnative.export records the exporting CPU's features in the package
// (cpu_features()); the package's own AOTI_CPU_ISA names the vector ISA. A package is refused at load on a CPU that
// lacks any of them.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace tsnative::detail {

// The instruction-set extensions a compiler may use for -march=native code that this build can test for (GCC's
// names: "avx2", "avx512f", "amx-tile"...), those this CPU has.
std::vector<std::string> cpu_features();

// Whether this CPU has the feature (a name cpu_features() may return; another name: true, not checked).
bool cpu_has(const std::string& feature);

// The features behind the words of AOTI_CPU_ISA (Inductor's, in either case: "AVX512 AVX512_VNNI"); words this build
// does not know add none.
std::vector<std::string> isa_features(const std::string& isa);

// Those of `needed` that `has` says are missing, in order, once each.
std::vector<std::string> missing_cpu_features(const std::vector<std::string>& needed,
                                              const std::function<bool(const std::string&)>& has);

}  // namespace tsnative::detail
