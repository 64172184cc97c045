// A walk over the opcodes of the pickle records in a TorchScript archive (data.pkl, constants.pkl, debug info),
// before LibTorch's unpickler reads them. The unpickler trusts the lengths and memo indices written in the stream
// and allocates what they ask for (PyTorch #185443: a 1.6 KB file asking for hundreds of GB), so each one is
// checked against the record that holds it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tsnative::detail {

// The first implausible opcode argument in `bytes` (the record `record`), or "" when none: a string, bytes or
// integer longer than what is left of the record, a memo index larger than the record could number. The walk
// stops at STOP or at an opcode it does not know (LibTorch refuses those itself, with a clear message).
std::string implausible_pickle_argument(std::string_view record, std::string_view bytes);

}  // namespace tsnative::detail
