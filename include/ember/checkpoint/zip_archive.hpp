// The zip container (PKWARE APPNOTE.TXT 4.3) of torch.save files and
// LibTorch archives: the record list read from the central directory, every
// offset and size checked against the file (zip64 read), and the writer of
// the stored, 64-byte aligned records torch's PyTorchStreamWriter makes.
// Plain C++17 and zlib (CRC-32, inflate). Leaves out encryption, multi-disk
// archives and every method but stored and deflate.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <vector>

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

/// Builds a zip of stored records whose data start at multiples of 64 bytes
/// (torch's PyTorchStreamWriter pads the local header's extra field, id
/// "FB"), zip64 fields where an offset or size needs them (or always,
/// `force_zip64`). The records' data are not copied: they must outlive the
/// pieces finish() returns. Throws ember::Error in a build without zlib.
///   ZipWriter z(false); z.add("archive/version", "3\n"); z.finish();
class ZipWriter {
 public:
  explicit ZipWriter(bool force_zip64) : force_zip64_(force_zip64) {}

  void add(const std::string& name, std::string_view data);
  /// The central directory and end records; the pieces of the whole file.
  std::vector<std::string_view> finish();

 private:
  bool force_zip64_;
  uint64_t offset_ = 0;
  uint64_t count_ = 0;
  std::deque<std::string> owned_;  // a deque: growing it moves no string
  std::vector<std::string_view> pieces_;
  std::string central_;

  void central_entry(
      const std::string& name, uint32_t crc, uint64_t size, uint64_t local);
};

namespace detail {
/// The `bytes`-byte little-endian unsigned number at s[at]; the caller has
/// checked that it lies inside `s`.
uint64_t read_le(std::string_view s, uint64_t at, int bytes);
/// Appends `v` as `bytes` little-endian bytes.
void put_le(std::string& out, uint64_t v, int bytes);
/// The CRC-32 (zlib's) of `bytes`; throws ember::Error without zlib.
uint32_t zip_crc32(std::string_view bytes);
/// A deflated record's bytes `data`, which must inflate to exactly `size`
/// bytes; throws ember::Error ("archive record '<name>': ...") when they do
/// not, or when the build has no zlib.
std::string inflate_record(
    std::string_view data, uint64_t size, const std::string& name);
}  // namespace detail

}  // namespace ember
