#include "train/image_decode.h"

// jpeglib.h needs FILE and size_t declared first: these stay in a block of their own, above it.
#include <csetjmp>
#include <cstddef>
#include <cstdio>

#include <jpeglib.h>
#include <png.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace tsnative::detail {
namespace {

bool is_png(const std::vector<uint8_t>& bytes) {
  static constexpr uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  return bytes.size() >= 8 && std::memcmp(bytes.data(), kSignature, 8) == 0;
}

bool is_jpeg(const std::vector<uint8_t>& bytes) {
  return bytes.size() >= 3 && bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff;
}

// More pixels than any one training image plausibly has (Pillow's decompression-bomb limit): a 700-byte file may
// declare 65500 x 65500 pixels, 12.9 GB of RGB. Refused from the header, before anything is allocated.
constexpr uint64_t kMaxPixels = 178'956'970;

void check_dimensions(const char* format, uint64_t width, uint64_t height) {
  if (width * height > kMaxPixels) {
    throw std::runtime_error(std::string(format) + " declares " + std::to_string(width) + " x " +
                             std::to_string(height) + " pixels, more than the " + std::to_string(kMaxPixels) +
                             " pixels one image may have (a corrupt or crafted file)");
  }
}

// libpng's simplified API (1.6) reports errors through png_image.message instead of longjmp.
DecodedImage decode_png(const std::vector<uint8_t>& bytes) {
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, bytes.data(), bytes.size())) {
    throw std::runtime_error(std::string("cannot decode PNG: ") + image.message);
  }
  if (static_cast<uint64_t>(image.width) * image.height > kMaxPixels) {
    png_image_free(&image);
    check_dimensions("PNG", image.width, image.height);
  }
  image.format = PNG_FORMAT_RGB;  // libpng converts grey, palette, 16-bit; alpha is composed on black
  DecodedImage decoded{static_cast<int>(image.width), static_cast<int>(image.height), {}};
  decoded.rgb.resize(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, decoded.rgb.data(), 0, nullptr)) {
    const std::string message = image.message;
    png_image_free(&image);
    throw std::runtime_error("cannot decode PNG: " + message);
  }
  return decoded;
}

// libjpeg reports errors by calling error_exit, which must not return: it longjmps back here. The functions that
// call setjmp hold only trivially destructible locals, so jumping over them skips no destructor.
struct JpegErrors {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void on_jpeg_error(j_common_ptr info) {
  auto* errors = reinterpret_cast<JpegErrors*>(info->err);
  (*info->err->format_message)(info, errors->message);
  std::longjmp(errors->jump, 1);
}

void on_jpeg_warning(j_common_ptr /*info*/, int /*level*/) {}  // corrupt-but-decodable data: keep going quietly

// Reads the header and starts decompression to RGB; false (message in errors) on failure.
bool start_jpeg(jpeg_decompress_struct* info, JpegErrors* errors, const uint8_t* data, size_t size) {
  if (setjmp(errors->jump)) return false;
  jpeg_create_decompress(info);
  jpeg_mem_src(info, data, static_cast<unsigned long>(size));
  jpeg_read_header(info, TRUE);
  if (static_cast<uint64_t>(info->image_width) * info->image_height > kMaxPixels) return false;
  info->out_color_space = JCS_RGB;  // libjpeg-turbo converts greyscale and YCbCr; CMYK is refused
  jpeg_start_decompress(info);
  return true;
}

bool read_jpeg_rows(jpeg_decompress_struct* info, JpegErrors* errors, uint8_t* out) {
  if (setjmp(errors->jump)) return false;
  const size_t stride = static_cast<size_t>(info->output_width) * 3;
  while (info->output_scanline < info->output_height) {
    JSAMPROW row = out + static_cast<size_t>(info->output_scanline) * stride;
    jpeg_read_scanlines(info, &row, 1);
  }
  jpeg_finish_decompress(info);
  return true;
}

DecodedImage decode_jpeg(const std::vector<uint8_t>& bytes) {
  jpeg_decompress_struct info;
  std::memset(&info, 0, sizeof info);
  JpegErrors errors;
  info.err = jpeg_std_error(&errors.manager);
  errors.manager.error_exit = on_jpeg_error;
  errors.manager.emit_message = on_jpeg_warning;
  errors.message[0] = '\0';
  DecodedImage decoded;
  bool ok = start_jpeg(&info, &errors, bytes.data(), bytes.size());
  if (!ok && errors.message[0] == '\0') {
    // start_jpeg refused the header's dimensions (no libjpeg error): say so the same way as for PNG.
    const uint64_t width = info.image_width;
    const uint64_t height = info.image_height;
    jpeg_destroy_decompress(&info);
    check_dimensions("JPEG", width, height);
  }
  if (ok && info.output_components != 3) {
    std::snprintf(errors.message, sizeof errors.message, "unsupported JPEG colour space");
    ok = false;
  }
  if (ok) {
    decoded.width = static_cast<int>(info.output_width);
    decoded.height = static_cast<int>(info.output_height);
    decoded.rgb.resize(static_cast<size_t>(decoded.width) * decoded.height * 3);
    ok = read_jpeg_rows(&info, &errors, decoded.rgb.data());
  }
  jpeg_destroy_decompress(&info);
  if (!ok) throw std::runtime_error(std::string("cannot decode JPEG: ") + errors.message);
  return decoded;
}

}  // namespace

DecodedImage decode_image(const std::vector<uint8_t>& bytes) {
  if (is_png(bytes)) return decode_png(bytes);
  if (is_jpeg(bytes)) return decode_jpeg(bytes);
  throw std::runtime_error(bytes.empty() ? "empty file, not an image" : "not a PNG or JPEG image");
}

}  // namespace tsnative::detail
