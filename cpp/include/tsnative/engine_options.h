// EngineOptions: every option of an Engine, declared once. The Python keywords of tsnative.Engine and their docs
// (bind_engine.cpp), ts-infer's flags (cpp/tools/common/option_flags.h) and the JSON settings are all made from
// describe() below, so adding an option is a field and a describe() line here, and its use in the engine.
// Light on purpose: no torch headers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tsnative/options.h"

namespace tsnative {

struct EngineOptions {
  std::string device = "cpu";
  std::string method = "forward";
  bool outputs_on_device = false;
  bool check_inputs = true;
  std::optional<std::string> sha256{};
  std::optional<uint64_t> max_archive_bytes{};
  bool freeze = true;
  std::string onednn_fusion = "auto";
  CallShapes warmup_shapes{};
  bool executor_per_shape = true;
  int64_t package_runners = 1;
  std::string precision = "fp32";
  bool cuda_graphs = false;
  bool pinned_transfers = false;
  int64_t max_batch = 0;
  int64_t batch_delay_us = 2000;

  // Calls visit(OptionInfo, member pointer) once per option, in the order above.
  template <class Visitor>
  static void describe(Visitor&& visit) {
    visit(OptionInfo{"device", "\"cpu\", \"cuda\" (the first GPU) or \"cuda:N\""}, &EngineOptions::device);
    visit(OptionInfo{.name = "method", .help = "the TorchScript method predict() runs", .backend = "torchscript"},
          &EngineOptions::method);
    visit(OptionInfo{"outputs_on_device", "leave outputs on the device instead of copying them to the CPU"},
          &EngineOptions::outputs_on_device);
    visit(OptionInfo{"check_inputs",
                     "check tensors against the dtypes and shapes tsnative.export recorded (every dimension but a "
                     "verified dynamic batch) before running forward",
                     "--no-input-check"},
          &EngineOptions::check_inputs);
    visit(OptionInfo{"sha256", "the file's expected SHA-256 (hex): another file is refused before it is parsed"},
          &EngineOptions::sha256);
    visit(OptionInfo{.name = "max_archive_bytes",
                     .help = "refuse a file whose archive declares more data than this (default: the machine's memory)",
                     .minimum = 1},
          &EngineOptions::max_archive_bytes);
    visit(OptionInfo{.name = "freeze",
                     .help = "freeze a module whose graph still reads its weights through attributes (weights become "
                             "constants, conv+batchnorm folded); a module freezing refuses is run as it is",
                     .backend = "torchscript"},
          &EngineOptions::freeze);
    visit(OptionInfo{.name = "onednn_fusion",
                     .help = "CPU, frozen modules: oneDNN Graph fusion, verified per call shape against the unfused "
                             "graph: \"auto\" (tried on each warmup_shapes entry, kept where correct and faster), "
                             "\"on\" (also tried on each new call shape, kept where correct) or \"off\"",
                     .aliases = "--fusion",
                     .choices = "auto|on|off",
                     .backend = "torchscript"},
          &EngineOptions::onednn_fusion);
    visit(OptionInfo{"warmup_shapes",
                     "input shapes to run at load (random normal values; zeros for integer and bool inputs), one "
                     "entry per call with one shape per tensor argument, so the graph is optimised for them before "
                     "the first real call"},
          &EngineOptions::warmup_shapes);
    visit(OptionInfo{.name = "executor_per_shape",
                     .help = "give each warmup_shapes entry a TorchScript executor of its own (one shared executor "
                             "optimises for the first shapes it sees)",
                     .backend = "torchscript"},
          &EngineOptions::executor_per_shape);
    visit(OptionInfo{.name = "package_runners",
                     .help = ".pt2 packages: how many calls run at once (AOTInductor's model runners, each with its "
                             "own activation memory; the weights are shared); further calls wait for one",
                     .minimum = 1,
                     .backend = "aoti"},
          &EngineOptions::package_runners);
    visit(OptionInfo{.name = "precision",
                     .help = "\"fp32\", \"bf16\" or \"fp16\": floating-point weights and inputs converted at load "
                             "and per call; floating-point outputs come back as float32 (a .pt2 package runs in the "
                             "precision it was compiled in)",
                     .choices = "fp32|bf16|fp16",
                     .backend = "torchscript"},
          &EngineOptions::precision);
    visit(OptionInfo{.name = "cuda_graphs",
                     .help = "CUDA: capture a CUDA graph per warmup_shapes entry and replay it for calls of exactly "
                             "those shapes; other calls run as usual",
                     .backend = "torchscript"},
          &EngineOptions::cuda_graphs);
    visit(OptionInfo{"pinned_transfers", "CUDA: copy inputs and outputs through page-locked memory, asynchronously",
                     "--pinned"},
          &EngineOptions::pinned_transfers);
    visit(OptionInfo{.name = "max_batch",
                     .help = "dynamic batching: concurrent calls whose tensors agree in all but dimension 0 are run "
                             "as one batch of up to this many rows, and each caller gets its own rows back; needs "
                             "a dynamic batch recorded by tsnative.export (0 or 1: off)",
                     .minimum = 0},
          &EngineOptions::max_batch);
    visit(OptionInfo{.name = "batch_delay_us",
                     .help = "dynamic batching: the longest a call waits, in microseconds, for others to fill its "
                             "batch before the batch runs anyway",
                     .minimum = 0},
          &EngineOptions::batch_delay_us);
  }
};

}  // namespace tsnative
