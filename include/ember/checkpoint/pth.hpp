// PyTorch `.pth` state dicts without Python: the zip that
// torch.save(model.state_dict(), path) writes (torch >= 1.6), read through
// an allow-list unpickler that mirrors torch 1.13's
// torch/_weights_only_unpickler.py (torch.load(..., weights_only=True)), and
// written so that torch.load returns an equal OrderedDict. Leaves out the
// legacy (pre-1.6) tar/pickle format, big-endian files, sparse, quantized
// and meta tensors, and whole pickled modules (torch.save(model)).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <ember/checkpoint/state_dict.hpp>

namespace ember {

class MappedFile;

/// Reads a state dict that torch.save wrote: a dict or OrderedDict of
/// str -> tensor (or nn.Parameter), keys in file order. Tensors keep
/// torch.save's layout, as torch.load returns them: dtype, size, stride and
/// storage offset; tensors that were views of one storage in Python share
/// one CPU storage here. Storage types: Double, Float, Half, BFloat16, Long,
/// Int, Short, Char, Byte, Bool, ComplexFloat, ComplexDouble. The file is
/// memory-mapped and the tensors are read-only views of it (a record not
/// aligned for its elements is copied), which keep the mapping alive.
///
/// Throws ember::Error, one line naming `path` and the record, byte offset or
/// key: a missing, truncated or non-zip file; no `*/data.pkl`; a pickle
/// opcode or global outside the allow-list (e.g. `os.system`, or
/// `__main__.GPTModel` from torch.save(model); hint: save
/// model.state_dict(), not the model); a storage record smaller than its
/// tensors' size/stride/offset need; a duplicate key; a value that is not a
/// tensor; a pickle over kMaxPickleBytes, or one that makes more than
/// kMaxPickleObjects objects or kMaxPickleMemory bytes of them
/// (checkpoint/pickle.hpp). Lengths in the file are checked against the file
/// before anything is allocated.
///   read_pth("model.pth")  // -> {{"tok_emb.weight", (50257, 768) float}, ...}
StateDict read_pth(const std::string& path);

/// read_pth on bytes already in memory; `path` names them in messages. The
/// tensors are copies: they do not view `file`.
StateDict parse_pth(std::string_view file, const std::string& path);

/// Writes `sd` as torch.save(OrderedDict(sd), path) does (pickle protocol 2,
/// stored zip records `archive/data.pkl`, `archive/data/<i>` 64-byte aligned,
/// `archive/version`), so that torch.load(path) (also with
/// weights_only=True) returns an OrderedDict of equal tensors in `sd`'s
/// order. Each tensor is written as a contiguous CPU copy with its own
/// storage. Atomic: `path.tmp.<pid>` is written, then renamed over `path`.
/// Throws ember::Error on a duplicate or empty name, an undefined, sparse or
/// quantized tensor, a dtype without a torch storage type, or a failed write
/// (the previous `path`, if any, is unchanged).
///   write_pth("model.pth", {{"w", at::ones({2, 3})}});
void write_pth(const std::string& path, const StateDict& sd);

namespace detail {
/// The bytes write_pth writes; `force_zip64` writes zip64 records even for
/// small files, as files past 4 GiB need (for tests).
std::string pth_bytes(const StateDict& sd, bool force_zip64 = false);
/// parse_pth, skipping the CRC-32 checks when `check_crc` is false (for
/// the fuzz target, whose mutations would otherwise stop there).
StateDict parse_pth(
    std::string_view file, const std::string& path, bool check_crc);
/// The same; where `mapped` (whose bytes are `file`) is given, the tensors
/// view it instead of copying (read_pth).
StateDict parse_pth(
    std::string_view file,
    const std::string& path,
    bool check_crc,
    std::shared_ptr<const MappedFile> mapped);
}  // namespace detail

}  // namespace ember
