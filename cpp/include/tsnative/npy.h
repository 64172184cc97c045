// Reading NumPy .npy files (format versions 1-3), so C++ clients can take real data written by numpy.save.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

namespace tsnative {

// The array as a CPU tensor: float32, float64, int64, int32, uint8 or bool; C or Fortran order; little-endian.
// Throws FileNotFound, or InvalidValue naming the file and what is wrong with it (dtype, header, truncation).
at::Tensor load_npy(const std::string& path);

}  // namespace tsnative
