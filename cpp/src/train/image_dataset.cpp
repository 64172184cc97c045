#include "tsnative/image_dataset.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "train/image_decode.h"
#include "tsnative/errors.h"

namespace tsnative {
namespace {

namespace fs = std::filesystem;

// One image to read: its resolved path, its class, and where it was listed (map file and line; line 0 for a folder).
struct Entry {
  std::string file;
  int64_t label = 0;
  std::string listed_in;
  int line = 0;
};

std::string quoted_excerpt(const std::string& text) {
  constexpr size_t kMax = 80;
  return "'" + (text.size() > kMax ? text.substr(0, kMax) + "..." : text) + "'";
}

std::string trimmed(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t\r") - first + 1);
}

int64_t parse_label(const std::string& text, int64_t classes, const std::string& map_file, int line) {
  int64_t label = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), label);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    throw DataError(map_file, line, "class index " + quoted_excerpt(text) + " is not an integer");
  }
  if (label < 0 || label >= classes) {
    throw DataError(map_file, line,
                    "class index " + std::to_string(label) + " is out of range for " + std::to_string(classes) +
                        " classes (expected 0 to " + std::to_string(classes - 1) + ")");
  }
  return label;
}

std::vector<Entry> read_map_file(const fs::path& map_file, int64_t classes) {
  std::ifstream in(map_file);
  if (!in) throw DataError(map_file.string(), 0, "cannot be read");
  const fs::path folder = map_file.parent_path();
  std::vector<Entry> entries;
  std::string text;
  for (int line = 1; std::getline(in, text); ++line) {
    if (!text.empty() && text.back() == '\r') text.pop_back();  // a map file written on Windows
    if (trimmed(text).empty() || text.front() == '#') continue;
    const auto tab = text.find('\t');
    if (tab == std::string::npos || tab == 0 || text.find('\t', tab + 1) != std::string::npos) {
      throw DataError(map_file.string(), line, "expected 'path<TAB>class_index', got " + quoted_excerpt(text));
    }
    const fs::path image = text.substr(0, tab);
    const int64_t label = parse_label(trimmed(text.substr(tab + 1)), classes, map_file.string(), line);
    const fs::path resolved = image.is_absolute() ? image : folder / image;
    if (!fs::is_regular_file(resolved)) {
      throw DataError(map_file.string(), line,
                      "image " + quoted_excerpt(image.string()) + " not found (looked for " + resolved.string() + ")");
    }
    entries.push_back({resolved.string(), label, map_file.string(), line});
  }
  if (entries.empty()) throw DataError(map_file.string(), 0, "lists no images");
  return entries;
}

bool is_image_name(const fs::path& file) {
  std::string extension = file.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return extension == ".png" || extension == ".jpg" || extension == ".jpeg";
}

std::vector<Entry> read_image_folder(const fs::path& root, int64_t classes, std::vector<std::string>& class_names) {
  std::vector<fs::path> folders;
  for (const auto& item : fs::directory_iterator(root)) {
    if (item.is_directory() && item.path().filename().string().front() != '.') folders.push_back(item.path());
  }
  std::sort(folders.begin(), folders.end());
  if (static_cast<int64_t>(folders.size()) != classes) {
    std::string names;
    for (const auto& folder : folders) names += (names.empty() ? "" : ", ") + folder.filename().string();
    throw DataError(root.string(), 0,
                    "expected one folder per class (" + std::to_string(classes) + " classes), found " +
                        std::to_string(folders.size()) + (names.empty() ? "" : " (" + names + ")"));
  }
  std::vector<Entry> entries;
  for (size_t label = 0; label < folders.size(); ++label) {
    class_names.push_back(folders[label].filename().string());
    std::vector<fs::path> files;
    for (const auto& item : fs::directory_iterator(folders[label])) {
      if (item.is_regular_file() && is_image_name(item.path())) files.push_back(item.path());
    }
    std::sort(files.begin(), files.end());  // directory order is arbitrary; the row order must not be
    for (const auto& file : files) entries.push_back({file.string(), static_cast<int64_t>(label), file.string(), 0});
  }
  if (entries.empty()) throw DataError(root.string(), 0, "holds no .png, .jpg or .jpeg image in its class folders");
  return entries;
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot be opened");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

at::Tensor decode_file(const std::string& path) {
  auto decoded = detail::decode_image(read_bytes(path));
  // Wrap the decoder's HWC bytes, then copy into a CHW tensor that owns its memory.
  return at::from_blob(decoded.rgb.data(), {decoded.height, decoded.width, 3}, at::kByte).permute({2, 0, 1}).clone();
}

}  // namespace

at::Tensor resize_images(const at::Tensor& images, int64_t size) {
  if (size < 1) throw InvalidValue("size: expected a positive image size, got " + std::to_string(size));
  const bool single = images.dim() == 3;
  const at::Tensor batch = single ? images.unsqueeze(0) : images;
  if (batch.size(2) == size && batch.size(3) == size) return images.contiguous();
  // Float in, rounded back to uint8: what torchvision's Resize(antialias=True) gives for a PIL image or uint8 tensor.
  at::Tensor resized = at::_upsample_bilinear2d_aa(batch.to(at::kFloat), {size, size}, /*align_corners=*/false);
  resized = resized.round_().clamp_(0, 255).to(at::kByte);
  return single ? resized.squeeze(0) : resized;
}

at::Tensor normalize_images(const at::Tensor& images) {
  const auto options = at::TensorOptions().dtype(at::kFloat);
  const at::Tensor mean = at::tensor(at::ArrayRef<float>(kImageNetMean, 3), options).view({1, 3, 1, 1});
  const at::Tensor std = at::tensor(at::ArrayRef<float>(kImageNetStd, 3), options).view({1, 3, 1, 1});
  return images.to(at::kFloat).div_(255.0).sub_(mean).div_(std);
}

ImageDataset load_image_dataset(const std::string& source, int64_t classes, int64_t size) {
  if (classes < 1) throw InvalidValue("classes: expected at least 1, got " + std::to_string(classes));
  if (size < 1) throw InvalidValue("size: expected a positive image size, got " + std::to_string(size));
  if (!fs::exists(source)) throw FileNotFound(source);
  ImageDataset dataset;
  dataset.source = source;
  std::vector<Entry> entries;
  if (fs::is_directory(source)) {
    entries = read_image_folder(source, classes, dataset.class_names);
    dataset.image_folder = true;
  } else {
    entries = read_map_file(source, classes);
    for (int64_t label = 0; label < classes; ++label) dataset.class_names.push_back(std::to_string(label));
  }

  const auto count = static_cast<int64_t>(entries.size());
  dataset.images = at::empty({count, 3, size, size}, at::kByte);
  std::vector<int64_t> labels;
  for (const auto& entry : entries) {
    labels.push_back(entry.label);
    dataset.files.push_back(entry.file);
  }
  dataset.labels = at::tensor(labels, at::kLong);
  // Decoding is independent per image: spread it over LibTorch's threads. Errors are collected per row and the
  // first one in file order is reported, so the message does not depend on thread timing.
  std::vector<std::string> errors(entries.size());
  at::parallel_for(0, count, 8, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      try {
        dataset.images[i].copy_(resize_images(decode_file(entries[i].file), size));
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    }
  });
  for (size_t i = 0; i < entries.size(); ++i) {
    if (errors[i].empty()) continue;
    const auto& entry = entries[i];
    throw DataError(entry.listed_in, entry.line,
                    entry.line > 0 ? "image " + quoted_excerpt(entry.file) + ": " + errors[i] : errors[i]);
  }
  return dataset;
}

}  // namespace tsnative
