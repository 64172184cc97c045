#include "tsnative/runtime.h"

#include <ATen/Parallel.h>
#include <ATen/Version.h>

#include "backends/torchscript/fusion_pass.h"
#include "tsnative/errors.h"

namespace tsnative {
namespace {

void check_count(const char* name, const std::optional<int>& count) {
  if (count && *count < 1) {
    throw InvalidValue(std::string(name) + ": expected a positive count, got " + std::to_string(*count));
  }
}

}  // namespace

void configure_runtime(const RuntimeOptions& options) {
  check_count("threads", options.threads);
  check_count("interop_threads", options.interop_threads);
  if (options.interop_threads && *options.interop_threads != at::get_num_interop_threads()) {
    try {
      at::set_num_interop_threads(*options.interop_threads);
    } catch (const std::exception&) {
      throw InvalidValue("interop_threads: LibTorch accepts it once, before any inter-op work; it is already " +
                         std::to_string(at::get_num_interop_threads()));
    }
  }
  if (options.threads) at::set_num_threads(*options.threads);
}

RuntimeSettings runtime_settings() {
  RuntimeSettings settings;
  settings.threads = at::get_num_threads();
  settings.interop_threads = at::get_num_interop_threads();
  settings.cpu_capability = at::get_cpu_capability();
#if defined(__x86_64__) || defined(__i386__)
  settings.cpu_has_bf16 = __builtin_cpu_supports("avx512bf16") || __builtin_cpu_supports("amx-bf16");
#endif
  settings.fusion_pass_installed = detail::fusion_pass_installed();
  return settings;
}

}  // namespace tsnative
