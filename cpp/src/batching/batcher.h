// Dynamic batching (EngineOptions::max_batch): concurrent calls of one shape queued and run as one batch by one
// worker thread, each caller handed its own rows. It sits in front of the Engine's pipeline: a call reaches it bound
// and checked on its caller's thread, so a bad call is refused before it joins a batch; the worker runs each batch
// through the rest of the pipeline (place, execute, finish) as one call. Row arithmetic: batch_rows.h.
#pragma once

#include <ATen/core/ivalue.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "batching/batch_rows.h"
#include "tsnative/load_report.h"
#include "tsnative/options.h"

namespace tsnative::detail {

class Batcher {
 public:
  // The rest of the pipeline for one complete call (bound and checked): its finished output; throws what it throws.
  using Run = std::function<c10::IValue(std::vector<c10::IValue>)>;

  struct Settings {
    int64_t max_batch = 2;               // rows per batch at most (>= 2)
    std::chrono::microseconds delay{0};  // the longest the first call of a batch waits for others
    CallShapes captured;                 // the call shapes CUDA graphs were captured for: batches are padded to them
  };

  // Starts the worker thread.
  Batcher(Run run, Settings settings);
  // close(): the queued calls complete first.
  ~Batcher();
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // Runs `call` (bound and checked) in a batch with other calls of its key and returns its own rows of the output,
  // or throws the error its run raised. nullopt when the call is not batchable (see batchable()), batching was
  // switched off, the batcher is closed, or this is a forked child (which has no worker thread): the caller runs it
  // on its own. `call` is read, never taken: the caller's thread keeps its tensors and drops them (see Call).
  std::optional<c10::IValue> submit(const std::vector<c10::IValue>& call);

  // Stops taking calls, runs those queued (at once, without waiting for their delay) and joins the worker. Calls
  // submitted afterwards get nullopt. Idempotent; safe from several threads.
  void close();

  // The counters: calls, batches, rows, queued... (report.enabled and the settings are the Engine's).
  void refresh(BatchingReport& report) const;

 private:
  using Clock = std::chrono::steady_clock;
  // A queued call. Its tensors stay the caller's: the worker only reads them, and every reference it makes (a joined
  // batch, a copy for a call run alone) is gone before it hands the caller its result. The last reference to a
  // tensor from Python (or wrapping a numpy array) may need the GIL to go, and a thread holding the GIL can be
  // waiting for the worker (reading load_report, which takes the batcher's lock, or destroying the engine, which
  // joins the worker): the worker must never need the GIL.
  struct Call {
    const std::vector<c10::IValue>* inputs = nullptr;  // the caller's, alive until its result is set
    int64_t rows = 0;
    Clock::time_point arrived;
    std::promise<c10::IValue> result;
  };
  struct Queue {
    std::deque<Call> calls;  // in the order they came
    int64_t rows = 0;        // theirs, together
  };

  // Whether this is a forked child of the process that started the worker.
  bool forked() const;
  void work();
  // Waits for a batch to be due and takes it out of its queue; empty when closed and nothing is left.
  std::vector<Call> next_batch(std::unique_lock<std::mutex>& lock);
  bool due(const Queue& queue, Clock::time_point now) const;
  void run_batch(std::vector<Call>& calls);
  void run_alone(std::vector<Call>& calls);
  void count_run(int64_t rows, int64_t padding);

  Run run_;
  Settings settings_;
  int pid_;  // the process that started the worker

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::map<BatchKey, Queue> queues_;  // one per key; removed when empty
  int64_t queued_ = 0;
  bool closing_ = false;
  std::optional<std::string> disabled_;
  BatchingReport counters_;

  std::mutex joining_;  // close() from several threads joins once
  std::thread worker_;
};

}  // namespace tsnative::detail
