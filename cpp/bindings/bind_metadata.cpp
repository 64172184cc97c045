// tsnative._C's access to the metadata format (tsnative/metadata.h): Python writes (tsnative.export) and reads
// (Engine.metadata, tsnative info) the tsnative.json extra file through the same checked C++ unit as the engine.
#include "backends/aoti/aoti_backend.h"
#include "backends/aoti/cpu_isa.h"
#include "backends/backend_registry.h"
#include "bindings.h"
#include "tsnative/metadata.h"

namespace py = pybind11;

namespace tsnative::python {

void bind_metadata(py::module_& module) {
  module.attr("METADATA_VERSION") = kMetadataVersion;
  module.attr("METADATA_FILE") = kMetadataFile;
  module.attr("METADATA_FORMAT") = metadata_format();
  module.def("metadata_text", &metadata_text, py::arg("metadata_json"),
             "The text to store as a file's tsnative.json, from the metadata as strict JSON text: \"format\" stamped "
             "first, the entries readers rely on checked, indent 1. Raises ValueError (NaN, no inputs, a format "
             "other than METADATA_FORMAT...).");
  module.def("parse_metadata", &checked_metadata, py::arg("metadata_json"),
             "Metadata text as read from a file, checked (its format is one this version reads; the entries readers "
             "rely on) and returned as canonical strict JSON text (legacy bare NaN read as null); \"\" stays \"\". "
             "Raises ValueError.");
  module.def(
      "read_metadata", [](const std::string& path) { return checked_metadata(read_metadata_json(path)); },
      py::arg("path"), py::call_guard<py::gil_scoped_release>(),
      "A model file's tsnative.json, checked as by parse_metadata, without loading the model (\"\" when it has "
      "none). Raises FileNotFoundError, ModelLoadError or ValueError.");
  module.def(
      "backend_of",
      [](const std::string& path) {
        return std::string(
            detail::backend_for(detail::ModelBytes::open(path, 0, detail::ModelBytes::Hold::kFile)).name);
      },
      py::arg("path"), py::call_guard<py::gil_scoped_release>(),
      "The backend that loads the file at `path`, decided on its content as the engine decides it: \"torchscript\" "
      "or \"aoti\" (a .pt2 package); the options an EngineOptions field declares for the other are refused for it. "
      "Raises FileNotFoundError or ModelLoadError.");
  module.def(
      "package_metadata",
      [](const std::string& path) {
        return detail::read_package_metadata(path, detail::ModelBytes::open(path, 0, detail::ModelBytes::Hold::kFile));
      },
      py::arg("path"), py::call_guard<py::gil_scoped_release>(),
      "A .pt2 package's AOTInductor metadata (AOTI_DEVICE_KEY, AOTI_CPU_ISA, tsnative.json...), read from the "
      "checked file as the engine reads it, without loading the package's code. Raises FileNotFoundError or "
      "ModelLoadError.");
  module.def("cpu_features", &detail::cpu_features,
             "This CPU's instruction-set extensions that -march=native code may use (GCC's names: \"avx2\", "
             "\"avx512f\"...): tsnative.export records them in a .pt2 package, whose kernels are compiled for this "
             "CPU, and the engine refuses the package on a CPU that lacks any.");
}

}  // namespace tsnative::python
