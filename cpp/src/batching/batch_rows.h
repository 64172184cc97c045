// The row arithmetic of dynamic batching, as pure functions: which calls may share a batch (their key), joining
// their tensors into one batch, the batch size a CUDA graph was captured for, and handing each call its own rows of
// the outputs. The queue and its thread are batcher.h's.
#pragma once

#include <ATen/core/ivalue.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tsnative/options.h"

namespace tsnative::detail {

// What calls must share to run as one batch: for each argument, its dtype, device and every size but dimension 0,
// flattened into numbers so that keys compare and order as vectors do.
using BatchKey = std::vector<int64_t>;

struct BatchableCall {
  BatchKey key;
  int64_t rows = 0;  // dimension 0, the same for every argument
};

// The key and rows of a call whose arguments are all defined tensors of rank >= 1 sharing one dimension 0 of 1 to
// `max_rows` rows; nullopt for any other call, which runs on its own.
std::optional<BatchableCall> batchable(const std::vector<c10::IValue>& call, int64_t max_rows);

// The batch sizes `declared` (warmup_shapes, one shape per tensor argument) gives for calls shaped like `call`: the
// dimension 0 of each declared call whose shapes agree with `call`'s tensors in every other dimension and share
// one dimension 0. Sorted, without repeats.
std::vector<int64_t> declared_batches(const CallShapes& declared, const std::vector<c10::IValue>& call);

// The rows a batch of `rows` rows is run with: the smallest of `captured` (the batch sizes a CUDA graph was captured
// for) that holds them, so the batch replays that graph with the extra rows discarded; `rows` when none does.
int64_t padded_rows(int64_t rows, const std::vector<int64_t>& captured);

// One call of the calls' tensors, joined along dimension 0 argument by argument, in the order given, then `padding`
// copies of the last row (the batch stays made of rows the model accepts). Every call has the same key.
std::vector<c10::IValue> join_rows(const std::vector<const std::vector<c10::IValue>*>& calls, int64_t padding);

// Why `output` cannot be cut into the rows of a batch of `rows` rows: "output[1] is a 0-dimensional tensor",
// "output['mean'] has 1 in dimension 0, not the batch's 8 rows", "output[0] is an int, not a tensor"; nullopt when
// every leaf (in tuples, lists and dicts) is a tensor with `rows` in dimension 0.
std::optional<std::string> unsplittable(const c10::IValue& output, int64_t rows);

// `output` with each tensor cut to rows [start, start + count), copied: a caller holds its own rows only, never the
// batch's storage (its memory, the other callers' results). A tensor that appears twice stays one tensor.
c10::IValue take_rows(const c10::IValue& output, int64_t start, int64_t count);

}  // namespace tsnative::detail
