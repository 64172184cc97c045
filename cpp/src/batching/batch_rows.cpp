#include "batching/batch_rows.h"

#include <ATen/ops/cat.h>

#include <algorithm>
#include <unordered_map>

#include "common/ivalue_tensors.h"

namespace tsnative::detail {
namespace {

// An output's leaf as a path: output, output[1], output['logits'].
std::string child_path(const std::string& parent, const c10::IValue& key) {
  if (key.isString()) return parent + "['" + key.toStringRef() + "']";
  if (key.isInt()) return parent + "[" + std::to_string(key.toInt()) + "]";
  return parent + "[" + key.tagKind() + "]";
}

// A value that is not a tensor, as Python names it: "an int", "a float", "None".
std::string value_kind(const c10::IValue& value) {
  if (value.isNone()) return "None";
  if (value.isInt()) return "an int";
  if (value.isDouble()) return "a float";
  if (value.isBool()) return "a bool";
  if (value.isString()) return "a str";
  return "a " + value.tagKind();
}

std::optional<std::string> unsplittable_at(const c10::IValue& value, int64_t rows, const std::string& path) {
  if (value.isTensor()) {
    const at::Tensor& tensor = value.toTensor();
    if (!tensor.defined()) return path + " is an undefined tensor";
    if (tensor.dim() == 0) return path + " is a 0-dimensional tensor";
    if (tensor.size(0) != rows) {
      return path + " has " + std::to_string(tensor.size(0)) + " in dimension 0, not the batch's " +
             std::to_string(rows) + " rows";
    }
    return std::nullopt;
  }
  if (value.isTuple()) {
    const auto& elements = value.toTupleRef().elements();
    for (size_t i = 0; i < elements.size(); ++i) {
      if (auto reason = unsplittable_at(elements[i], rows, child_path(path, static_cast<int64_t>(i)))) return reason;
    }
    return std::nullopt;
  }
  if (value.isList()) {
    const auto list = value.toList();
    // A list as long as the batch most likely holds an item per row (torchvision's detections, a model's
    // per-image results): its items' own dimension 0 is not the batch's, even where its size happens to match.
    if (static_cast<int64_t>(list.size()) == rows) {
      return path + " is a list of " + std::to_string(rows) + " items, as many as the batch's rows: an item per row";
    }
    for (size_t i = 0; i < list.size(); ++i) {
      if (auto reason = unsplittable_at(list.get(i), rows, child_path(path, static_cast<int64_t>(i)))) return reason;
    }
    return std::nullopt;
  }
  if (value.isGenericDict()) {
    for (const auto& entry : value.toGenericDict()) {
      if (auto reason = unsplittable_at(entry.value(), rows, child_path(path, entry.key()))) return reason;
    }
    return std::nullopt;
  }
  // A number, string or None belongs to the whole batch: no row of it is any one caller's.
  return path + " is " + value_kind(value) + ", not a tensor";
}

}  // namespace

std::optional<BatchableCall> batchable(const std::vector<c10::IValue>& call, int64_t max_rows) {
  if (call.empty()) return std::nullopt;
  BatchableCall out;
  out.key.push_back(static_cast<int64_t>(call.size()));
  for (const auto& argument : call) {
    if (!argument.isTensor()) return std::nullopt;
    const at::Tensor& tensor = argument.toTensor();
    if (!tensor.defined() || tensor.dim() == 0) return std::nullopt;
    const int64_t rows = tensor.size(0);
    if (out.rows == 0) out.rows = rows;
    if (rows != out.rows) return std::nullopt;  // no one dimension 0 to cut the outputs by
    out.key.push_back(static_cast<int64_t>(tensor.scalar_type()));
    out.key.push_back(static_cast<int64_t>(tensor.device().type()));
    out.key.push_back(tensor.device().index());
    out.key.push_back(tensor.dim());
    for (int64_t d = 1; d < tensor.dim(); ++d) out.key.push_back(tensor.size(d));
  }
  if (out.rows < 1 || out.rows > max_rows) return std::nullopt;
  return out;
}

std::vector<int64_t> declared_batches(const CallShapes& declared, const std::vector<c10::IValue>& call) {
  std::vector<int64_t> batches;
  for (const auto& shapes : declared) {
    if (shapes.size() != call.size() || shapes.empty() || shapes.front().empty()) continue;
    const int64_t rows = shapes.front().front();
    bool agrees = true;
    for (size_t i = 0; i < shapes.size() && agrees; ++i) {
      const auto& shape = shapes[i];
      if (!call[i].isTensor() || shape.empty() || shape.front() != rows) {
        agrees = false;
        continue;
      }
      const auto sizes = call[i].toTensor().sizes();
      agrees = shape.size() == sizes.size() && std::equal(shape.begin() + 1, shape.end(), sizes.begin() + 1);
    }
    if (agrees) batches.push_back(rows);
  }
  std::sort(batches.begin(), batches.end());
  batches.erase(std::unique(batches.begin(), batches.end()), batches.end());
  return batches;
}

int64_t padded_rows(int64_t rows, const std::vector<int64_t>& captured) {
  std::optional<int64_t> best;
  for (const int64_t size : captured) {
    if (size >= rows && (!best || size < *best)) best = size;
  }
  return best.value_or(rows);
}

std::vector<c10::IValue> join_rows(const std::vector<const std::vector<c10::IValue>*>& calls, int64_t padding) {
  const size_t arguments = calls.front()->size();
  std::vector<c10::IValue> joined;
  joined.reserve(arguments);
  for (size_t a = 0; a < arguments; ++a) {
    std::vector<at::Tensor> parts;
    parts.reserve(calls.size() + 1);
    for (const auto* call : calls) parts.push_back((*call)[a].toTensor());
    if (padding > 0) {
      const at::Tensor& last = parts.back();
      auto sizes = last.sizes().vec();
      sizes[0] = padding;
      parts.push_back(last.narrow(0, last.size(0) - 1, 1).expand(sizes));
    }
    joined.emplace_back(parts.size() == 1 ? parts.front() : at::cat(parts, 0));
  }
  return joined;
}

std::optional<std::string> unsplittable(const c10::IValue& output, int64_t rows) {
  return unsplittable_at(output, rows, "output");
}

c10::IValue take_rows(const c10::IValue& output, int64_t start, int64_t count) {
  std::unordered_map<const c10::TensorImpl*, at::Tensor> taken;
  return map_tensors(output, [&](const at::Tensor& tensor) {
    auto [entry, added] = taken.try_emplace(tensor.unsafeGetTensorImpl());
    if (added) entry->second = tensor.narrow(0, start, count).clone();
    return entry->second;
  });
}

}  // namespace tsnative::detail
