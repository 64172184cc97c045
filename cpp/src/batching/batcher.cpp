#include "batching/batcher.h"

#include <ATen/Parallel.h>
#include <unistd.h>

#include <algorithm>

#include "common/error_text.h"
#include "tsnative/errors.h"

namespace tsnative::detail {
namespace {

// An error of the batcher's own tensor work (joining rows, copying a caller's rows), as a run's errors are typed.
std::exception_ptr inference_error(const std::exception& error) {
  return std::make_exception_ptr(InferenceError(cause_of(error), error.what()));
}

}  // namespace

Batcher::Batcher(Run run, Settings settings)
    : run_(std::move(run)), settings_(std::move(settings)), pid_(static_cast<int>(getpid())) {
  worker_ = std::thread([this] { work(); });
}

std::optional<c10::IValue> Batcher::submit(const std::vector<c10::IValue>& call) {
  // After fork() the child has this object but not its worker thread: its calls run on their own.
  if (forked()) return std::nullopt;
  auto batch = batchable(call, settings_.max_batch);
  std::future<c10::IValue> result;
  bool wake = false;
  {
    const std::lock_guard lock(mutex_);
    if (closing_) return std::nullopt;  // the Engine refuses it as closed
    if (!batch || disabled_) {
      ++counters_.unbatched_calls;
      return std::nullopt;
    }
    Queue& queue = queues_[batch->key];
    queue.calls.push_back(Call{&call, batch->rows, Clock::now(), {}});
    queue.rows += batch->rows;
    result = queue.calls.back().result.get_future();
    // The worker needs waking only when this call sets a new deadline (nothing was queued) or fills its batch;
    // otherwise it is running a batch, or waiting for an earlier deadline, and sees this call then.
    wake = queued_ == 0 || queue.rows >= settings_.max_batch;
    ++queued_;
    ++counters_.calls;
  }
  if (wake) wake_.notify_one();
  return result.get();  // the caller's own rows, or the error of its run
}

void Batcher::close() {
  // A forked child never takes the batcher's locks: the parent's worker may have held one at the fork, and no
  // thread of the child would ever release it. The child has no worker to stop.
  if (forked()) return;
  {
    const std::lock_guard lock(mutex_);
    closing_ = true;
  }
  wake_.notify_all();
  const std::lock_guard joining(joining_);
  if (worker_.joinable()) worker_.join();
}

Batcher::~Batcher() {
  close();
  if (worker_.joinable()) worker_.detach();  // a forked child's copy: the thread is the parent's
}

bool Batcher::forked() const { return static_cast<int>(getpid()) != pid_; }

void Batcher::refresh(BatchingReport& report) const {
  // In a forked child the counters are the parent's at the fork, read without the lock (see close()).
  std::unique_lock lock(mutex_, std::defer_lock);
  if (!forked()) lock.lock();
  report.calls = counters_.calls;
  report.unbatched_calls = counters_.unbatched_calls;
  report.batches = counters_.batches;
  report.rows = counters_.rows;
  report.padded_rows = counters_.padded_rows;
  report.largest_batch = counters_.largest_batch;
  report.retried_batches = counters_.retried_batches;
  report.queued = queued_;
  report.disabled = disabled_;
}

void Batcher::work() {
  // This thread runs the model: give it the process's intra-op thread count, as LibTorch does for its own threads.
  at::init_num_threads();
  std::unique_lock lock(mutex_);
  for (;;) {
    std::vector<Call> batch = next_batch(lock);
    if (batch.empty()) return;
    lock.unlock();
    run_batch(batch);
    lock.lock();
  }
}

bool Batcher::due(const Queue& queue, Clock::time_point now) const {
  return closing_ || disabled_ || queue.rows >= settings_.max_batch ||
         now >= queue.calls.front().arrived + settings_.delay;
}

std::vector<Batcher::Call> Batcher::next_batch(std::unique_lock<std::mutex>& lock) {
  for (;;) {
    if (queues_.empty()) {
      if (closing_) return {};
      wake_.wait(lock);
      continue;
    }
    // Of the queues due, the one whose first call came first; none due: wait for the earliest deadline.
    const auto now = Clock::now();
    auto chosen = queues_.end();
    auto deadline = Clock::time_point::max();
    for (auto it = queues_.begin(); it != queues_.end(); ++it) {
      const auto arrived = it->second.calls.front().arrived;
      if (!due(it->second, now)) {
        deadline = std::min(deadline, arrived + settings_.delay);
      } else if (chosen == queues_.end() || arrived < chosen->second.calls.front().arrived) {
        chosen = it;
      }
    }
    if (chosen == queues_.end()) {
      wake_.wait_until(lock, deadline);
      continue;
    }
    // Calls in the order they came, while their rows fit (a call never has more than max_batch rows); one at a
    // time once batching is switched off.
    Queue& queue = chosen->second;
    std::vector<Call> batch;
    int64_t rows = 0;
    while (!queue.calls.empty() && rows + queue.calls.front().rows <= settings_.max_batch) {
      if (disabled_ && !batch.empty()) break;
      rows += queue.calls.front().rows;
      batch.push_back(std::move(queue.calls.front()));
      queue.calls.pop_front();
    }
    queue.rows -= rows;
    queued_ -= static_cast<int64_t>(batch.size());
    if (queue.calls.empty()) queues_.erase(chosen);
    return batch;
  }
}

void Batcher::count_run(int64_t rows, int64_t padding) {
  const std::lock_guard lock(mutex_);
  ++counters_.batches;
  counters_.rows += rows;
  counters_.padded_rows += padding;
  counters_.largest_batch = std::max(counters_.largest_batch, rows);
}

void Batcher::run_alone(std::vector<Call>& calls) {
  for (auto& call : calls) {
    count_run(call.rows, 0);
    try {
      call.result.set_value(run_(*call.inputs));  // the copy is consumed by run_ before the result is set
    } catch (...) {
      call.result.set_exception(std::current_exception());
    }
  }
}

void Batcher::run_batch(std::vector<Call>& calls) {
  int64_t rows = 0;
  for (const auto& call : calls) rows += call.rows;
  const int64_t run_rows = settings_.captured.empty()
                               ? rows
                               : padded_rows(rows, declared_batches(settings_.captured, *calls.front().inputs));
  if (calls.size() == 1 && run_rows == rows) {  // nothing joined: the call as it came, nothing to cut
    run_alone(calls);
    return;
  }
  c10::IValue output;
  try {
    std::vector<const std::vector<c10::IValue>*> parts;
    parts.reserve(calls.size());
    for (const auto& call : calls) parts.push_back(call.inputs);
    output = run_(join_rows(parts, run_rows - rows));
  } catch (...) {
    // The batch failed: each of its calls runs alone, so that a call fails with its own error only and the others
    // get their results, whether one call's data made the model raise or the batch's size did (out of memory).
    // The failed run answered no one: it is counted as retried, and its calls as the runs that answer them.
    {
      const std::lock_guard lock(mutex_);
      ++counters_.retried_batches;
    }
    run_alone(calls);
    return;
  }
  if (auto reason = unsplittable(output, run_rows)) {
    // An output with no row per call (a batch-wide mean, a count) cannot be cut: these calls run alone, and so do
    // all later ones. The model's outputs are what they are for every call, so this is said once, in the report.
    {
      const std::lock_guard lock(mutex_);
      disabled_ = *reason;
    }
    run_alone(calls);
    return;
  }
  count_run(rows, run_rows - rows);
  int64_t start = 0;
  for (auto& call : calls) {
    try {
      call.result.set_value(take_rows(output, start, call.rows));
    } catch (const std::exception& e) {
      call.result.set_exception(inference_error(e));
    }
    start += call.rows;
  }
}

}  // namespace tsnative::detail
