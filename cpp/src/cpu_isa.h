// Whether this CPU runs code compiled for another: an AOTInductor package records the instruction set its kernels
// were compiled for (AOTI_CPU_ISA, e.g. "AVX512 AVX512_VNNI"), and running AVX-512 code on an AVX2-only CPU kills
// the process with an illegal instruction. The package is refused at load instead.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace tsnative::detail {

// The CPU features (GCC's names: "avx512f", "amx-tile") that code compiled for `isa` (Inductor's words, upper or
// lower case, separated by spaces) needs and `has` says are missing. Words this build does not know are not
// checked.
std::vector<std::string> missing_cpu_features(const std::string& isa,
                                              const std::function<bool(const std::string&)>& has);

// Whether this CPU has the feature (GCC's name, one of those missing_cpu_features returns).
bool cpu_has(const std::string& feature);

}  // namespace tsnative::detail
