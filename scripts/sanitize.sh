#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer build of the core, ts-infer, the C++ tests and load-fuzzer
# (clang), then: the C++ tests, and ts-infer over the malformed-file corpus (each file must exit 1 with one clean
# line) and over a valid model (exit 0). Any sanitizer report fails the run.
#   bash scripts/sanitize.sh            (make sanitize; needs .venv from make setup, and clang)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/sanitize}
PY=${PY:-.venv/bin/python}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=suppressions=$PWD/cpp/fuzz/lsan.supp

# No CUDA toolkit needed: the sanitizer build links the wheel's libraries directly and runs on the CPU.
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTSNATIVE_SANITIZE=address,undefined -DTSNATIVE_BUILD_FUZZER=ON -DTSNATIVE_BUILD_TESTS=ON \
  -DTSNATIVE_TORCH_WITHOUT_TOOLKIT=ON -DPython_EXECUTABLE="$PWD/$PY" >/dev/null
cmake --build "$BUILD"

echo "== C++ tests under ASan+UBSan"
"$(dirname "$PY")/ctest" --test-dir "$BUILD" --output-on-failure

echo "== ts-infer over the malformed-file corpus"
rm -rf "$BUILD/corpus" && "$PY" scripts/make_corpus.py "$BUILD/corpus" >/dev/null
"$PY" -c "import sys, torch, warnings; warnings.simplefilter('ignore')
torch.jit.save(torch.jit.script(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())), sys.argv[1])" \
  "$BUILD/valid.pt"
failures=0
check() {  # check FILE EXPECTED_STATUS
  local log="$BUILD/last.log" status=0
  "$BUILD/cpp/ts-infer" "$1" --shape 1x3x8x8 >"$log" 2>&1 || status=$?
  if [[ $status != "$2" ]] || grep -qE "Sanitizer|runtime error" "$log"; then
    echo "FAIL $(basename "$1"): status $status (expected $2)"; sed 's/^/    /' "$log" | head -40
    failures=$((failures + 1))
  else
    echo "ok   $(basename "$1"): status $status, $(grep -m1 -E '^Error|Output' "$log" | cut -c1-110)"
  fi
}
for file in "$BUILD"/corpus/*; do check "$file" 1; done
check "$BUILD/valid.pt" 0
count=$(ls "$BUILD"/corpus | wc -l)
if ((failures)); then echo "sanitize: $failures failure(s)"; exit 1; fi
echo "sanitize: clean (C++ tests, $count corpus files, 1 valid model) under ASan+UBSan"
