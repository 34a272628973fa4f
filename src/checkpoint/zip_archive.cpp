#include "ember/checkpoint/zip_archive.hpp"

#include <fmt/core.h>
#if EMBER_HAVE_ZLIB
#include <zlib.h>
#endif

#include <ember/util/error.hpp>

namespace ember {

uint64_t detail::read_le(std::string_view s, uint64_t at, int bytes) {
  uint64_t v = 0;
  for (int k = bytes - 1; k >= 0; --k) {
    v = (v << 8) | static_cast<unsigned char>(s[at + static_cast<uint64_t>(k)]);
  }
  return v;
}

void detail::put_le(std::string& out, uint64_t v, int bytes) {
  for (int k = 0; k < bytes; ++k) {
    out += static_cast<char>((v >> (8 * k)) & 0xFF);
  }
}

uint32_t detail::zip_crc32(std::string_view bytes) {
#if EMBER_HAVE_ZLIB
  return static_cast<uint32_t>(
      crc32_z(0, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size()));
#else
  (void)bytes;
  throw Error(
      "zip: this build has no zlib for the CRC-32; hint: install zlib "
      "(zlib1g-dev) and rebuild");
#endif
}

namespace {

using detail::put_le;

uint64_t le(std::string_view s, uint64_t at, int bytes) {
  return detail::read_le(s, at, bytes);
}

[[noreturn]] void zip_error(const std::string& what) {
  throw Error("archive: " + what);
}

// s[at, at + n) lies inside s (no overflow).
bool inside(std::string_view s, uint64_t at, uint64_t n) {
  return at <= s.size() && n <= s.size() - at;
}

constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kEnd64LocatorSig = 0x07064b50;
constexpr uint32_t kEnd64Sig = 0x06064b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint64_t kMax32 = 0xFFFFFFFF;
// Deflate's largest expansion: 258 bytes from a 2-bit code, about 1032:1.
constexpr uint64_t kMaxInflate = 1032;

// version, flags, method, time, date, CRC-32, both sizes, name length.
void header_fields(
    std::string& h, uint32_t crc, uint64_t size, bool big, size_t name_len) {
  put_le(h, big ? 45 : 20, 2);
  put_le(h, 0, 6);     // flags, method (stored), time
  put_le(h, 0x21, 2);  // 1980-01-01
  put_le(h, crc, 4);
  put_le(h, big ? kMax32 : size, 4);
  put_le(h, big ? kMax32 : size, 4);
  put_le(h, name_len, 2);
}

}  // namespace

std::string detail::inflate_record(
    std::string_view data, uint64_t size, const std::string& name) {
#if EMBER_HAVE_ZLIB
  std::string out(static_cast<size_t>(size), '\0');
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) {
    throw Error(fmt::format("archive record '{}': zlib failed to start", name));
  }
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = ::inflate(&z, Z_FINISH);
  const uint64_t produced = z.total_out;
  inflateEnd(&z);
  if (rc != Z_STREAM_END || produced != size) {
    throw Error(fmt::format(
        "archive record '{}': damaged deflate data (expected {} bytes)",
        name,
        size));
  }
  return out;
#else
  (void)data;
  (void)size;
  throw Error(fmt::format(
      "archive record '{}': compressed, and this build has no zlib to check "
      "it; hint: install zlib (zlib1g-dev) and rebuild",
      name));
#endif
}

std::map<std::string, ArchiveRecord> list_zip_records(std::string_view zip) {
  // The end record: 22 bytes and a comment of up to 65535, at the very end.
  if (zip.size() < 22) zip_error("too short for a zip archive");
  uint64_t end = zip.size() - 22;
  const uint64_t lowest = end > 65535 ? end - 65535 : 0;
  while (le(zip, end, 4) != kEndSig ||
         end + 22 + le(zip, end + 20, 2) > zip.size()) {
    if (end == lowest) zip_error("no end of central directory record");
    --end;
  }
  uint64_t count = le(zip, end + 10, 2);
  uint64_t dir_size = le(zip, end + 12, 4);
  uint64_t dir_offset = le(zip, end + 16, 4);
  uint64_t dir_end = end;  // the central directory must end before this
  if (count == 0xFFFF || dir_size == kMax32 || dir_offset == kMax32) {
    // Zip64: a locator just before the end record points at the zip64 end.
    if (end < 20 || le(zip, end - 20, 4) != kEnd64LocatorSig) {
      zip_error("zip64 sizes without a zip64 end locator");
    }
    const uint64_t at = le(zip, end - 20 + 8, 8);
    if (!inside(zip, at, 56) || at > end - 20 || le(zip, at, 4) != kEnd64Sig) {
      zip_error("zip64 end record missing or outside the file");
    }
    count = le(zip, at + 32, 8);
    dir_size = le(zip, at + 40, 8);
    dir_offset = le(zip, at + 48, 8);
    dir_end = at;
  }
  if (dir_offset > dir_end || dir_size > dir_end - dir_offset) {
    zip_error(fmt::format(
        "central directory ({} bytes at {}) outside the file",
        dir_size,
        dir_offset));
  }
  if (count > dir_size / 46) {
    zip_error(fmt::format(
        "{} records cannot fit a {}-byte directory", count, dir_size));
  }
  std::map<std::string, ArchiveRecord> out;
  uint64_t p = dir_offset;
  const uint64_t stop = dir_offset + dir_size;
  for (uint64_t k = 0; k < count; ++k) {
    if (p + 46 > stop || le(zip, p, 4) != kCentralSig) {
      zip_error(fmt::format("central directory entry {} is damaged", k));
    }
    const uint64_t method = le(zip, p + 10, 2);
    const auto crc = static_cast<uint32_t>(le(zip, p + 16, 4));
    uint64_t stored = le(zip, p + 20, 4);
    uint64_t size = le(zip, p + 24, 4);
    const uint64_t name_len = le(zip, p + 28, 2);
    const uint64_t extra_len = le(zip, p + 30, 2);
    const uint64_t comment_len = le(zip, p + 32, 2);
    uint64_t local = le(zip, p + 42, 4);
    if (p + 46 + name_len + extra_len + comment_len > stop) {
      zip_error(fmt::format("central directory entry {} is cut short", k));
    }
    std::string name(zip.substr(p + 46, name_len));
    // Zip64 extended information: the 0xFFFFFFFF fields, in this order.
    for (uint64_t e = p + 46 + name_len;
         e + 4 <= p + 46 + name_len + extra_len;) {
      const uint64_t id = le(zip, e, 2);
      const uint64_t len = le(zip, e + 2, 2);
      const uint64_t body = e + 4;
      if (body + len > p + 46 + name_len + extra_len) break;
      if (id == 0x0001) {
        uint64_t f = body;
        for (uint64_t* field : {&size, &stored, &local}) {
          if (*field != kMax32) continue;
          if (f + 8 > body + len)
            zip_error(fmt::format("record '{}': zip64 field missing", name));
          *field = le(zip, f, 8);
          f += 8;
        }
      }
      e = body + len;
    }
    p += 46 + name_len + extra_len + comment_len;
    if (method == 0 && stored != size) {
      zip_error(fmt::format(
          "record '{}': stored, yet {} bytes become {}", name, stored, size));
    }
    if (method == 8 && size / kMaxInflate > stored) {
      zip_error(fmt::format(
          "record '{}': {} deflated bytes cannot inflate to {}",
          name,
          stored,
          size));
    }
    if (method != 0 && method != 8) {
      zip_error(fmt::format(
          "record '{}': compression method {} (expected stored "
          "or deflate)",
          name,
          method));
    }
    // The local header repeats the name; its extra field (alignment
    // padding) may differ from the central one.
    if (!inside(zip, local, 30) || le(zip, local, 4) != kLocalSig) {
      zip_error(
          fmt::format("record '{}': local header missing at {}", name, local));
    }
    ArchiveRecord r;
    r.data_offset =
        local + 30 + le(zip, local + 26, 2) + le(zip, local + 28, 2);
    r.stored_size = stored;
    r.size = size;
    r.deflated = method == 8;
    r.crc32 = crc;
    if (r.data_offset > dir_offset || stored > dir_offset - r.data_offset) {
      zip_error(fmt::format(
          "record '{}': {} bytes at {} run past the records",
          name,
          stored,
          r.data_offset));
    }
    out[name] = r;
  }
  return out;
}

void ZipWriter::add(const std::string& name, std::string_view data) {
  const bool big = force_zip64_ || data.size() >= kMax32;
  const uint32_t crc = detail::zip_crc32(data);
  std::string& h = owned_.emplace_back();
  const uint64_t zip64_len = big ? 20 : 0;
  const uint64_t at = offset_ + 30 + name.size() + zip64_len + 4;
  const uint64_t pad = (64 - at % 64) % 64;
  put_le(h, 0x04034b50, 4);
  header_fields(h, crc, data.size(), big, name.size());
  put_le(h, zip64_len + 4 + pad, 2);  // extra field length
  h += name;
  if (big) {
    put_le(h, 0x0001, 2);
    put_le(h, 16, 2);
    put_le(h, data.size(), 8);
    put_le(h, data.size(), 8);
  }
  put_le(h, 0x4246, 2);  // "FB"
  put_le(h, pad, 2);
  h.append(static_cast<size_t>(pad), 'Z');
  pieces_.push_back(h);
  pieces_.push_back(data);
  central_entry(name, crc, data.size(), offset_);
  offset_ += h.size() + data.size();
}

void ZipWriter::central_entry(
    const std::string& name, uint32_t crc, uint64_t size, uint64_t local) {
  const bool big = force_zip64_ || size >= kMax32 || local >= kMax32;
  std::string& c = central_;
  put_le(c, 0x02014b50, 4);
  put_le(c, 0x0300 | 45, 2);  // made by: Unix, zip 4.5
  header_fields(c, crc, size, big, name.size());
  put_le(c, big ? 28 : 0, 2);  // extra field length
  put_le(c, 0, 6);             // comment length, disk, internal attributes
  put_le(c, 0, 4);             // external attributes
  put_le(c, big ? kMax32 : local, 4);
  c += name;
  if (big) {
    put_le(c, 0x0001, 2);
    put_le(c, 24, 2);
    put_le(c, size, 8);
    put_le(c, size, 8);
    put_le(c, local, 8);
  }
  ++count_;
}

std::vector<std::string_view> ZipWriter::finish() {
  const uint64_t dir_offset = offset_;
  const uint64_t dir_size = central_.size();
  pieces_.push_back(central_);
  std::string& e = owned_.emplace_back();
  const bool zip64 = force_zip64_ || count_ >= 0xFFFF || dir_offset >= kMax32 ||
                     dir_size >= kMax32;
  if (zip64) {
    put_le(e, 0x06064b50, 4);
    put_le(e, 44, 8);  // bytes after this field
    put_le(e, 45, 2);
    put_le(e, 45, 2);
    put_le(e, 0, 8);  // this disk, the directory's disk
    put_le(e, count_, 8);
    put_le(e, count_, 8);
    put_le(e, dir_size, 8);
    put_le(e, dir_offset, 8);
    put_le(e, 0x07064b50, 4);  // the locator
    put_le(e, 0, 4);
    put_le(e, dir_offset + dir_size, 8);
    put_le(e, 1, 4);
  }
  put_le(e, 0x06054b50, 4);
  put_le(e, 0, 4);
  put_le(e, zip64 ? 0xFFFF : count_, 2);
  put_le(e, zip64 ? 0xFFFF : count_, 2);
  put_le(e, zip64 ? kMax32 : dir_size, 4);
  put_le(e, zip64 ? kMax32 : dir_offset, 4);
  put_le(e, 0, 2);  // comment length
  pieces_.push_back(e);
  return pieces_;
}

}  // namespace ember
