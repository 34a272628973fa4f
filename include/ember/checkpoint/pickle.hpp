// Python pickles (Lib/pickletools.py) as torch.save and LibTorch write
// them: the cursor both unpicklers read through (checkpoint/pth.cpp's
// allow-list reader of .pth state dicts, checkpoint/torch_archive.cpp's check
// of LibTorch archives), with the caps that bound the memory a pickle can
// make, and the writer of the opcodes torch.save's pickler emits for an
// OrderedDict of tensors. Leaves out the unpicklers' values: each keeps what
// it needs of them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <c10/util/ArrayRef.h>
#include <fmt/core.h>

#include <ember/checkpoint/zip_archive.hpp>

namespace ember {

/// What one pickle may make, in both unpicklers. A 1-byte opcode such as
/// `N` (None) makes a value of some 150 bytes plus its stack slot, so without
/// caps a 64 MiB pickle (kMaxPickleBytes) made 10 GB. Objects: every value
/// made and every reference kept (stack slot, MARK, memo entry, item of a
/// tuple, list or dict); a state dict's pickle makes about 60 per tensor
/// (GPT-2 XL's 580 tensors: ~35,000). Bytes: the estimated memory of those
/// objects plus every string copied. Reading a pickle within both caps takes
/// at most about kMaxPickleMemory bytes besides the file.
inline constexpr uint64_t kMaxPickleBytes = uint64_t{64} << 20;    // 64 MiB
inline constexpr uint64_t kMaxPickleObjects = uint64_t{1} << 21;   // 2,097,152
inline constexpr uint64_t kMaxPickleMemory = uint64_t{256} << 20;  // 256 MiB

namespace detail {

/// A pickle read front to back, every read bounded by its record and
/// everything it makes counted against the caps above. `Reader` derives from
/// it and has `[[noreturn]] void fail(size_t at, const std::string& what)
/// const`, which names the record and the opcode's byte `at`.
template <class Reader>
class PickleCursor {
 protected:
  std::string_view data_;
  size_t pos_ = 0;
  size_t op_at_ = 0;  // the byte of the opcode being read

  /// The next opcode, its byte offset in `at`; fails at the record's end
  /// (every pickle ends with STOP).
  unsigned char next_op(size_t& at) {
    if (pos_ >= data_.size()) reader().fail(pos_, "ends without STOP");
    at = op_at_ = pos_;
    return static_cast<unsigned char>(data_[pos_++]);
  }
  /// The next n bytes of argument, which must be there.
  std::string_view take(size_t at, uint64_t n, const char* what) {
    if (n > data_.size() - pos_) {
      reader().fail(
          at,
          fmt::format(
              "{} claims {} bytes, {} remain in the record",
              what,
              n,
              data_.size() - pos_));
    }
    const auto out = data_.substr(pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return out;
  }
  /// A `bytes`-byte little-endian argument.
  uint64_t uint(size_t at, int bytes, const char* what) {
    return read_le(take(at, static_cast<uint64_t>(bytes), what), 0, bytes);
  }
  /// A newline-terminated argument (GLOBAL's module and name), without it.
  std::string_view line(size_t at, const char* what) {
    const size_t nl = data_.find('\n', pos_);
    if (nl == std::string_view::npos) {
      reader().fail(at, fmt::format("{}: no newline", what));
    }
    const size_t len = nl - pos_;
    return take(at, len + 1, what).substr(0, len);
  }
  /// Counts `objects` new values or references taking about `bytes` of
  /// memory; fails, naming the opcode, past kMaxPickleObjects or
  /// kMaxPickleMemory.
  void charge(uint64_t objects, uint64_t bytes) {
    objects_ += objects;
    bytes_ += bytes;
    if (objects_ > kMaxPickleObjects) {
      reader().fail(
          op_at_,
          fmt::format(
              "the pickle makes more than {} objects (a state dict's makes "
              "about 60 per tensor)",
              kMaxPickleObjects));
    }
    if (bytes_ > kMaxPickleMemory) {
      reader().fail(
          op_at_,
          fmt::format(
              "the pickle's objects take more than {} MiB of memory (a state "
              "dict's take about 10 KB per tensor)",
              kMaxPickleMemory >> 20));
    }
  }

 private:
  uint64_t objects_ = 0;
  uint64_t bytes_ = 0;
  const Reader& reader() const {
    return static_cast<const Reader&>(*this);
  }
};

}  // namespace detail

/// Writes the opcodes torch.save's pickler (protocol 2) emits for an
/// OrderedDict of tensors.
///   PickleWriter p; p.integer(5);  // p.out == "K\x05"
struct PickleWriter {
  std::string out;

  void ops(const char* bytes, size_t n) {
    out.append(bytes, n);
  }
  /// BININT1, BININT2, BININT or LONG1, the shortest that holds `v`.
  void integer(int64_t v);
  /// BINUNICODE.
  void str(std::string_view s);
  /// GLOBAL "module\nname\n" of "module.name" (split at the last dot).
  void global(std::string_view dotted);
  /// EMPTY_TUPLE, TUPLE1..3, or MARK ... TUPLE of ints.
  void int_tuple(c10::IntArrayRef v);
};

}  // namespace ember
