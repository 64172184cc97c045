#!/usr/bin/env bash
# Runs load-fuzzer (libFuzzer, ASan+UBSan) on the loader for SECONDS (default 60), seeded with the malformed-file
# corpus and two valid models. New inputs go to build/sanitize/fuzz-corpus; a finding is written to
# build/sanitize/fuzz-findings/ and the run exits non-zero. Builds with scripts/sanitize.sh first if needed.
#   bash scripts/fuzz.sh [SECONDS]      (make fuzz SECONDS=600)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${1:-60}
BUILD=${BUILD:-build/sanitize}
PY=${PY:-.venv/bin/python}
[[ -x $BUILD/cpp/load-fuzzer ]] || bash scripts/sanitize.sh
mkdir -p "$BUILD/fuzz-corpus" "$BUILD/fuzz-findings"
seeds="$BUILD/fuzz-seeds"
rm -rf "$seeds" && "$PY" scripts/make_corpus.py "$seeds" >/dev/null && rm -rf "$seeds/directory.pt"
"$PY" -c "import sys, torch, warnings; warnings.simplefilter('ignore')
torch.manual_seed(0)
torch.jit.save(torch.jit.script(torch.nn.Linear(4, 3)), sys.argv[1] + '/linear_script.pt')
torch.jit.save(torch.jit.trace(torch.nn.Conv2d(3, 2, 3), torch.randn(1, 3, 5, 5)), sys.argv[1] + '/conv_trace.pt')" "$seeds"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export LSAN_OPTIONS=suppressions=$PWD/cpp/fuzz/lsan.supp
# The zip bomb seed is 260 KB; mutations stay near the seeds' sizes.
"$BUILD/cpp/load-fuzzer" -max_total_time="$SECONDS_TO_RUN" -max_len=300000 -rss_limit_mb=4096 -timeout=30 \
  -print_final_stats=1 -artifact_prefix="$BUILD/fuzz-findings/" "$BUILD/fuzz-corpus" "$seeds"
