// The safetensors format (Hugging Face): an 8-byte little-endian header
// length N, N bytes of JSON ({"name": {"dtype": "F32", "shape": [..],
// "data_offsets": [begin, end]}, ..., "__metadata__": {"k": "v"}}), then the
// tensors' bytes, offsets relative to the first byte after the header.
// Reading maps the file and checks it all before any tensor is made; the
// tensors view the mapping (no copy) and keep it alive.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <ember/checkpoint/state_dict.hpp>

namespace ember {

/// The dtypes read: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL.
/// Throws ember::Error, one line naming `path` and the key or byte offset:
/// a file shorter than its header, a header that is not a JSON object of
/// tensor entries, an unknown dtype, a shape whose bytes differ from its
/// data_offsets, offsets outside the data or overlapping, a duplicate key.
StateDict read_safetensors(const std::string& path);

/// read_safetensors() of bytes already in memory (`where` names them in
/// errors). The tensors view `bytes`; `owner` (may be null) is kept alive
/// by them.
StateDict parse_safetensors(
    std::string_view bytes,
    const std::string& where,
    std::shared_ptr<const void> owner = nullptr);

/// The "__metadata__" strings of a safetensors file's header (empty when
/// it has none); the same checks as read_safetensors().
std::map<std::string, std::string> safetensors_metadata(std::string_view bytes);

/// The bytes of a safetensors file of `sd` (contiguous little-endian
/// copies, in order, each 8-byte aligned as the header is padded to 8).
/// Throws ember::Error for a dtype the format lacks.
std::string safetensors_bytes(
    const StateDict& sd,
    const std::map<std::string, std::string>& metadata = {});

}  // namespace ember
