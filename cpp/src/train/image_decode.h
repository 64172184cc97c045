// Decoding PNG and JPEG files into 8-bit RGB pixels, with libpng and libjpeg(-turbo). No LibTorch here: this
// translation unit compiles in a second.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tsnative::detail {

struct DecodedImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;  // height * width * 3 bytes, row-major, interleaved R, G, B
};

// Decodes the PNG or JPEG in `bytes` (told apart by their signatures, not by the file name). Greyscale, palette,
// 16-bit and alpha images become 8-bit RGB (alpha composed onto black). Throws std::runtime_error saying what is wrong.
DecodedImage decode_image(const std::vector<uint8_t>& bytes);

}  // namespace tsnative::detail
