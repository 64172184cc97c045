// tsnative._C.finetune and load_images: the C++ fine-tuning core, called from Python (see tsnative.finetune).
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include "bindings.h"
#include "option_binding.h"
#include "python_values.h"
#include "tsnative/finetune.h"
#include "tsnative/image_dataset.h"

namespace py = pybind11;

namespace tsnative::python {

void bind_finetune(py::module_& module) {
  py::class_<EpochStats>(module, "EpochStats", "One epoch of tsnative::finetune.")
      .def_readonly("epoch", &EpochStats::epoch)
      .def_readonly("train_loss", &EpochStats::train_loss)
      .def_readonly("train_accuracy", &EpochStats::train_accuracy)
      .def_readonly("test_loss", &EpochStats::test_loss)
      .def_readonly("test_accuracy", &EpochStats::test_accuracy)
      .def_readonly("train_seconds", &EpochStats::train_seconds)
      .def_readonly("seconds", &EpochStats::seconds)
      .def_readonly("best", &EpochStats::best);

  py::class_<FinetuneResult>(module, "FinetuneResult", "What tsnative::finetune returns.")
      .def_readonly("history", &FinetuneResult::history)
      .def_readonly("best_epoch", &FinetuneResult::best_epoch)
      .def_readonly("best_test_accuracy", &FinetuneResult::best_test_accuracy)
      .def_readonly("out", &FinetuneResult::out)
      .def_readonly("class_names", &FinetuneResult::class_names)
      .def_readonly("train_images", &FinetuneResult::train_images)
      .def_readonly("test_images", &FinetuneResult::test_images)
      .def_readonly("head_inputs", &FinetuneResult::head_inputs)
      .def_readonly("trainable_parameters", &FinetuneResult::trainable_parameters)
      .def_readonly("total_parameters", &FinetuneResult::total_parameters)
      .def_readonly("load_seconds", &FinetuneResult::load_seconds);

  bind_options<FinetuneOptions>(module, "FinetuneOptions",
                                "Every option of fine-tuning, declared once in C++ (tsnative/finetune.h).",
                                "finetune()");
  module.def(
      "finetune",
      [](const std::string& model, const std::string& train, const std::string& test, const FinetuneOptions& options,
         const py::object& progress) {
        // Between epochs: take the GIL back to report progress, and let Ctrl-C stop the training there.
        auto on_epoch = [&progress](const EpochStats& stats) {
          py::gil_scoped_acquire acquire;
          if (!progress.is_none()) progress(stats);
          if (PyErr_CheckSignals() != 0) throw py::error_already_set();
        };
        py::gil_scoped_release release;  // training runs in C++ for minutes: other Python threads go on
        return finetune(model, train, test, options, on_epoch);
      },
      py::arg("model"), py::arg("train"), py::arg("test"), py::arg("options"), py::arg("progress") = py::none(),
      "Fine-tunes a TorchScript classifier (tsnative::finetune).");

  module.def(
      "load_images",
      [](const std::string& source, int64_t classes, int64_t size, bool normalize) {
        ImageDataset dataset;
        at::Tensor images;
        {
          py::gil_scoped_release release;
          dataset = load_image_dataset(source, classes, size);
          images = normalize ? normalize_images(dataset.images) : dataset.images;
        }
        return py::make_tuple(output_to_python(images), output_to_python(dataset.labels), dataset.class_names,
                              dataset.files, dataset.image_folder);
      },
      py::arg("source"), py::arg("classes"), py::arg("size"), py::arg("normalize") = true,
      "Reads a map file or image folder as tsnative::load_image_dataset: (images [N, 3, size, size], float32 "
      "normalised or uint8, int64 labels, class names, files, image_folder).");
}

}  // namespace tsnative::python
