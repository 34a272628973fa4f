// A bounds check of a LibTorch archive (the zip that torch::serialize and
// TorchScript write) before LibTorch reads it. LibTorch 1.13 trusts the
// lengths inside: a pickle string length allocates that much before reading
// (4 GiB from a 100-byte file), and a tensor storage gets the element count
// the pickle states, not the size of the record behind it (a heap overflow
// on first use); its memo grows to whatever key a pickle names; and it
// compiles the archive's TorchScript source, which crashes on some altered
// programs. All were found by fuzz/checkpoint_fuzz.cpp. Plain C++17 and zlib,
// no LibTorch.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include <fmt/core.h>

namespace ember {

/// One record of the archive, as the central directory describes it.
struct ArchiveRecord {
  uint64_t data_offset = 0;  // first byte of its (stored or deflated) data
  uint64_t stored_size = 0;  // bytes in the file
  uint64_t size = 0;         // bytes once read (inflated)
  bool deflated = false;
  uint32_t crc32 = 0;  // of the bytes once read, as the directory states
};

/// The records of a zip archive by name. Throws ember::Error ("archive: ...")
/// when the end record, the central directory or a local header is missing
/// or lies outside `zip`, a record uses a method other than stored or
/// deflate, a stored record's two sizes differ, or a deflated one claims more
/// than deflate can expand to (1032:1). Zip64 sizes and offsets are read.
std::map<std::string, ArchiveRecord> list_zip_records(std::string_view zip);

/// Checks what LibTorch would trust: the zip structure (list_zip_records);
/// the TorchScript source, which may only be `code/__torch__.py` holding the
/// attribute declarations of a saved tensor archive (inflated with zlib; a
/// build without zlib refuses it); then each pickle (`<dir>/<name>.pkl` and
/// `*.debug_pkl`, which must be stored): every opcode known and complete,
/// every length within the record, memo keys numbered in order, and every
/// tensor storage it names (persistent id ('storage', torch.<T>Storage, key,
/// location, numel)) backed by a record `<dir>/<name>/<key>` of at least
/// numel x sizeof(T) bytes. Throws ember::Error naming the record, the byte
/// offset or line within it and what is wrong.
void check_torch_archive(std::string_view zip);

namespace detail {
/// The `bytes`-byte little-endian unsigned number at s[at]; the caller has
/// checked that it lies inside `s`.
uint64_t read_le(std::string_view s, uint64_t at, int bytes);

/// A pickle read front to back, every read bounded by its record: the
/// cursor of the two unpicklers (torch_archive.cpp's check of LibTorch
/// archives, pth.cpp's .pth reader). `Reader` derives from it and has
/// `[[noreturn]] void fail(size_t at, const std::string& what) const`,
/// which names the record and the opcode's byte `at`.
template <class Reader>
class PickleCursor {
 protected:
  std::string_view data_;
  size_t pos_ = 0;

  /// The next opcode, its byte offset in `at`; fails at the record's end
  /// (every pickle ends with STOP).
  unsigned char next_op(size_t& at) {
    if (pos_ >= data_.size()) reader().fail(pos_, "ends without STOP");
    at = pos_;
    return static_cast<unsigned char>(data_[pos_++]);
  }
  /// The next n bytes of argument, which must be there.
  std::string_view take(size_t at, uint64_t n, const char* what) {
    if (n > data_.size() - pos_) {
      reader().fail(at, fmt::format(
          "{} claims {} bytes, {} remain in the record", what, n, data_.size() - pos_));
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
    if (nl == std::string_view::npos) reader().fail(at, fmt::format("{}: no newline", what));
    const size_t len = nl - pos_;
    return take(at, len + 1, what).substr(0, len);
  }

 private:
  const Reader& reader() const { return static_cast<const Reader&>(*this); }
};
}  // namespace detail

}  // namespace ember
