// load-fuzzer: libFuzzer harness for what tsnative does with an untrusted file — the archive and pickle checks,
// then torch::jit::load. Every input must end in a loaded model or a tsnative::Error; anything else (another
// exception, a sanitizer report, a crash) is a finding.
//   scripts/fuzz.sh SECONDS   (builds it with clang, ASan and UBSan, seeds it with the malformed-file corpus)
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "tsnative/engine.h"
#include "tsnative/errors.h"

namespace {

// The engine loads from a path (as torch::jit::load does), so each input is written to one scratch file in
// memory-backed /dev/shm, per process.
const std::string& scratch_path() {
  static const std::string path = "/dev/shm/tsnative-fuzz-" + std::to_string(getpid()) + ".pt";
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = scratch_path();
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (!file) std::abort();
  if (size && std::fwrite(data, 1, size, file) != size) std::abort();
  std::fclose(file);
  try {
    tsnative::EngineOptions options;
    options.max_archive_bytes = 256ull << 20;  // keep each run small: larger declarations are refused up front
    tsnative::Engine engine(path, options);
  } catch (const tsnative::Error&) {
    // The expected outcome for a malformed file: a clean, typed refusal.
  } catch (const std::exception& error) {
    std::fprintf(stderr, "load-fuzzer: an exception that is not a tsnative::Error escaped: %s\n", error.what());
    std::abort();
  }
  return 0;
}
