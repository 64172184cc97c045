#include "file/pickle_check.h"

#include <cstring>

namespace tsnative::detail {
namespace {

// How an opcode's argument is laid out in the stream (pickletools' ArgumentDescriptor kinds, reduced to what
// bounds the walk).
enum class Argument { kNone, kFixed, kLength, kLine, kTwoLines, kUnknown };

struct Layout {
  Argument kind;
  int bytes;  // kFixed: the argument's size; kLength: the size of the little-endian length that precedes the data
  bool memo_index = false;  // the argument indexes the memo table (binary PUT opcodes)
};

Layout layout_of(unsigned char opcode) {
  switch (opcode) {
    case 0x80:  // PROTO
    case 'K':   // BININT1
    case 'h':   // BINGET
    case 0x82:  // EXT1
      return {Argument::kFixed, 1};
    case 'M':   // BININT2
    case 0x83:  // EXT2
      return {Argument::kFixed, 2};
    case 'J':   // BININT
    case 'j':   // LONG_BINGET
    case 0x84:  // EXT4
      return {Argument::kFixed, 4};
    case 'G':   // BINFLOAT
    case 0x95:  // FRAME
      return {Argument::kFixed, 8};
    case 'q':  // BINPUT
      return {Argument::kFixed, 1, true};
    case 'r':  // LONG_BINPUT
      return {Argument::kFixed, 4, true};
    case 0x8a:  // LONG1
    case 'U':   // SHORT_BINSTRING
    case 0x8c:  // SHORT_BINUNICODE
    case 'C':   // SHORT_BINBYTES
      return {Argument::kLength, 1};
    case 0x8b:  // LONG4
    case 'T':   // BINSTRING
    case 'X':   // BINUNICODE
    case 'B':   // BINBYTES
      return {Argument::kLength, 4};
    case 0x8d:  // BINUNICODE8
    case 0x8e:  // BINBYTES8
    case 0x96:  // BYTEARRAY8
      return {Argument::kLength, 8};
    case 'I':  // INT
    case 'L':  // LONG
    case 'F':  // FLOAT
    case 'S':  // STRING
    case 'V':  // UNICODE
    case 'g':  // GET
    case 'P':  // PERSID
    case 'p':  // PUT (text protocol; its index is decimal text, not bounded here)
      return {Argument::kLine, 0};
    case 'c':  // GLOBAL
    case 'i':  // INST
      return {Argument::kTwoLines, 0};
    default:
      break;
  }
  static constexpr std::string_view kNoArgument =
      ".(012N\x88\x89Rbael]d}sut)\x85\x86\x87o\x81\x92\x93\x94Q\x8f\x90\x91\x97\x98";
  return {kNoArgument.find(static_cast<char>(opcode)) != std::string_view::npos ? Argument::kNone : Argument::kUnknown,
          0};
}

uint64_t little_endian(std::string_view bytes) {
  uint64_t value = 0;
  for (size_t i = bytes.size(); i-- > 0;) value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  return value;
}

std::string at(std::string_view record, size_t offset, const std::string& what) {
  return "pickle record '" + std::string(record) + "' at byte " + std::to_string(offset) + ": " + what;
}

}  // namespace

std::string implausible_pickle_argument(std::string_view record, std::string_view bytes) {
  size_t position = 0;
  while (position < bytes.size()) {
    const size_t start = position;
    const auto opcode = static_cast<unsigned char>(bytes[position++]);
    const Layout layout = layout_of(opcode);
    const size_t left = bytes.size() - position;
    switch (layout.kind) {
      case Argument::kUnknown:
        return "";
      case Argument::kNone:
        if (opcode == '.') return "";
        break;
      case Argument::kFixed: {
        if (static_cast<size_t>(layout.bytes) > left) return at(record, start, "the record ends inside an opcode");
        const uint64_t value = little_endian(bytes.substr(position, layout.bytes));
        // A pickler numbers memo entries 0, 1, 2, ..., one per PUT of at least two bytes: an index beyond the
        // record's size makes the unpickler grow its memo table for nothing.
        if (layout.memo_index && value > bytes.size()) {
          return at(
              record, start,
              "memo index " + std::to_string(value) + " in a record of " + std::to_string(bytes.size()) + " bytes");
        }
        position += layout.bytes;
        break;
      }
      case Argument::kLength: {
        if (static_cast<size_t>(layout.bytes) > left) return at(record, start, "the record ends inside an opcode");
        const uint64_t length = little_endian(bytes.substr(position, layout.bytes));
        position += layout.bytes;
        if (length > bytes.size() - position) {
          return at(record, start,
                    "declares " + std::to_string(length) + " bytes of data, but only " +
                        std::to_string(bytes.size() - position) + " follow");
        }
        position += length;
        break;
      }
      case Argument::kLine:
      case Argument::kTwoLines: {
        for (int line = layout.kind == Argument::kLine ? 1 : 2; line > 0; --line) {
          const size_t end = bytes.find('\n', position);
          if (end == std::string_view::npos) return at(record, start, "the record ends inside an opcode");
          position = end + 1;
        }
        break;
      }
    }
  }
  return at(record, bytes.size(), "the record ends without a STOP opcode");
}

}  // namespace tsnative::detail
