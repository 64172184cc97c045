// Labelled images for fine-tuning: read from a map file or an image folder, decoded (PNG, JPEG) and resized once.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tsnative {

// ImageNet's channel statistics, which torchvision's classification models are trained with.
inline constexpr float kImageNetMean[3] = {0.485f, 0.456f, 0.406f};
inline constexpr float kImageNetStd[3] = {0.229f, 0.224f, 0.225f};

struct ImageDataset {
  std::string source;                    // the map file or folder it was read from
  at::Tensor images;                     // uint8 [N, 3, size, size], RGB, resized
  at::Tensor labels;                     // int64 [N], class indices in [0, classes)
  std::vector<std::string> class_names;  // an image folder's sorted subfolder names; "0", "1"... for a map file
  std::vector<std::string> files;        // the image of each row, as resolved
  bool image_folder = false;             // read from source/<class>/<image> (else from a map file)

  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

// Reads `source`, which is either
//   - a map file: one `image_path<TAB>class_index` per line (the seed's format); relative paths are taken from
//     the map file's folder; blank lines and lines starting with '#' are skipped; or
//   - an image folder: `source/<class>/<image>.png|.jpg|.jpeg`, classes numbered by their sorted folder names.
// Every image is decoded (PNG or JPEG, greyscale and alpha become RGB) and resized to size x size once, here:
// bilinear with antialiasing, rounded back to uint8, as torchvision's Resize does on uint8 images.
// Throws FileNotFound when `source` does not exist, InvalidValue for classes < 1 or size < 1, and DataError
// naming the file and line of a malformed line, a class index outside [0, classes), or an unreadable image.
ImageDataset load_image_dataset(const std::string& source, int64_t classes, int64_t size);

// uint8 [3, H, W] or [N, 3, H, W] -> the same, resized to size x size (bilinear, antialiased, rounded).
at::Tensor resize_images(const at::Tensor& images, int64_t size);

// uint8 [N, 3, H, W] -> float32, scaled to [0, 1] and normalised with the ImageNet mean and std: the model's input.
at::Tensor normalize_images(const at::Tensor& images);

}  // namespace tsnative
