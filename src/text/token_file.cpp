#include "ember/text/token_file.hpp"

#include <array>
#include <cstring>
#include <memory>
#include <utility>

#include <fmt/core.h>

#include <ember/util/error.hpp>
#include <ember/util/io.hpp>

namespace ember {
namespace {

void put_u32(unsigned char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
void put_u64(unsigned char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
uint32_t get_u32(const unsigned char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{p[i]} << (8 * i);
  return v;
}
uint64_t get_u64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}

void check_width(uint32_t width_bits, std::string_view what) {
  if (width_bits != 16 && width_bits != 32) {
    throw TokenizerError(fmt::format(
        "token file {}: unsupported token width {} (expected 16 or 32)",
        what,
        width_bits));
  }
}

void check_vocab_name(std::string_view name, std::string_view what) {
  if (name.empty() || name.size() > kTokenFileMaxVocabName ||
      name.find('\0') != std::string_view::npos) {
    throw TokenizerError(fmt::format(
        "token file {}: vocabulary name must be 1 to {} bytes without NUL "
        "(got {} bytes)",
        what,
        kTokenFileMaxVocabName,
        name.size()));
  }
}

std::array<unsigned char, kTokenFileHeaderSize> header_bytes(
    const TokenFileHeader& h) {
  std::array<unsigned char, kTokenFileHeaderSize> b{};
  std::memcpy(b.data(), kTokenFileMagic, 8);
  put_u32(b.data() + 8, h.version);
  put_u32(b.data() + 12, h.width_bits);
  put_u64(b.data() + 16, h.num_tokens);
  put_u64(b.data() + 24, h.checksum);
  std::memcpy(b.data() + 32, h.vocab_name.data(), h.vocab_name.size());
  return b;
}

// Little-endian ids of `width_bits` into `out` (appended).
void pack_ids(
    const TokenId* ids,
    size_t n,
    uint32_t width_bits,
    uint64_t first_index,
    std::string_view what,
    std::vector<unsigned char>& out) {
  const size_t at = out.size();
  const size_t w = width_bits / 8;
  out.resize(at + n * w);
  unsigned char* p = out.data() + at;
  if (width_bits == 16) {
    for (size_t i = 0; i < n; ++i) {
      const TokenId id = ids[i];
      if (id > 0xFFFF) {
        throw TokenizerError(fmt::format(
            "token file {}: id {} at index {} does not fit in 16 bits; hint: "
            "use bin32",
            what,
            id,
            first_index + i));
      }
      p[2 * i] = static_cast<unsigned char>(id);
      p[2 * i + 1] = static_cast<unsigned char>(id >> 8);
    }
  } else {
    for (size_t i = 0; i < n; ++i) put_u32(p + 4 * i, ids[i]);
  }
}

std::vector<TokenId> unpack_ids(
    const unsigned char* p, uint64_t n, uint32_t width_bits) {
  std::vector<TokenId> ids(static_cast<size_t>(n));
  if (width_bits == 16) {
    for (size_t i = 0; i < ids.size(); ++i) {
      ids[i] = TokenId{p[2 * i]} | TokenId{p[2 * i + 1]} << 8;
    }
  } else {
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = get_u32(p + 4 * i);
  }
  return ids;
}

}  // namespace

uint64_t fnv1a64(const void* data, size_t n, uint64_t state) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) {
    state ^= p[i];
    state *= 0x100000001b3ull;
  }
  return state;
}

PayloadChecksum::PayloadChecksum(uint32_t version)
    : version_(version), fnv_(fnv1a64(nullptr, 0)) {}

void PayloadChecksum::update(const void* data, size_t n) {
  if (version_ == 1) {
    fnv_ = fnv1a64(data, n, fnv_);
  } else {
    xxh_.update(data, n);
  }
}

uint64_t PayloadChecksum::digest() const {
  return version_ == 1 ? fnv_ : xxh_.digest();
}

void check_payload_checksum(
    const TokenFileHeader& h, uint64_t got, std::string_view what) {
  if (got != h.checksum) {
    throw TokenizerError(fmt::format(
        "token file {}: checksum mismatch (got {:016x}, expected {:016x}); "
        "hint: the file is corrupt",
        what,
        got,
        h.checksum));
  }
}

uint32_t token_width_for(size_t vocab_size) {
  return vocab_size <= 65536 ? 16 : 32;
}

TokenFileWriter::TokenFileWriter(
    std::string path, uint32_t width_bits, std::string vocab_name)
    : path_(std::move(path)),
      width_bits_(width_bits),
      vocab_name_(std::move(vocab_name)) {
  check_width(width_bits_, path_);
  check_vocab_name(vocab_name_, path_);
  file_ = std::make_unique<AtomicFile>(
      path_,
      [p = path_](AtomicFile::Step, int err) {
        return fmt::format("write {}: {}", p, std::strerror(err));
      },
      0666);
  // Placeholder header; finish() writes the real one.
  const std::array<unsigned char, kTokenFileHeaderSize> zero{};
  write_raw(zero.data(), zero.size());
}

// The temporary file, if not finished, goes with file_.
TokenFileWriter::~TokenFileWriter() = default;

void TokenFileWriter::write_raw(const void* data, size_t n) {
  file_->write(data, n);
}

void TokenFileWriter::append(const TokenId* ids, size_t n) {
  if (file_ == nullptr) {
    throw Error(fmt::format("token file {}: append after finish", path_));
  }
  buffer_.clear();
  pack_ids(ids, n, width_bits_, num_tokens_, path_, buffer_);
  checksum_.update(buffer_.data(), buffer_.size());
  write_raw(buffer_.data(), buffer_.size());
  num_tokens_ += n;
}

void TokenFileWriter::finish() {
  if (file_ == nullptr) {
    throw Error(fmt::format("token file {}: finish called twice", path_));
  }
  TokenFileHeader h;
  h.width_bits = width_bits_;
  h.num_tokens = num_tokens_;
  h.checksum = checksum_.digest();
  h.vocab_name = vocab_name_;
  const auto bytes = header_bytes(h);
  const std::unique_ptr<AtomicFile> file = std::move(file_);
  file->write_at(0, bytes.data(), bytes.size());
  file->commit();
}

std::string encode_token_file(
    const std::vector<TokenId>& ids,
    uint32_t width_bits,
    std::string_view vocab_name) {
  check_width(width_bits, "<memory>");
  check_vocab_name(vocab_name, "<memory>");
  std::vector<unsigned char> payload;
  pack_ids(ids.data(), ids.size(), width_bits, 0, "<memory>", payload);
  TokenFileHeader h;
  h.width_bits = width_bits;
  h.num_tokens = ids.size();
  PayloadChecksum sum;
  sum.update(payload.data(), payload.size());
  h.checksum = sum.digest();
  h.vocab_name = std::string(vocab_name);
  const auto head = header_bytes(h);
  std::string out;
  out.reserve(head.size() + payload.size());
  out.append(reinterpret_cast<const char*>(head.data()), head.size());
  out.append(reinterpret_cast<const char*>(payload.data()), payload.size());
  return out;
}

TokenFileHeader parse_token_file_header(
    std::string_view bytes, std::string_view what) {
  if (bytes.size() < kTokenFileHeaderSize ||
      std::memcmp(bytes.data(), kTokenFileMagic, 8) != 0) {
    if (bytes.size() >= 8 &&
        std::memcmp(bytes.data(), kTokenFileMagic, 8) == 0) {
      throw TokenizerError(fmt::format(
          "token file {}: truncated header (got {} bytes, expected {})",
          what,
          bytes.size(),
          kTokenFileHeaderSize));
    }
    throw TokenizerError(fmt::format(
        "token file {}: bad magic (expected the file to start with \"{}\"); "
        "hint: write token files with ember tokenize --format bin16|bin32",
        what,
        kTokenFileMagic));
  }
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  TokenFileHeader h;
  h.version = get_u32(p + 8);
  if (h.version < kTokenFileOldestVersion || h.version > kTokenFileVersion) {
    throw TokenizerError(fmt::format(
        "token file {}: unsupported format version {} (expected {} to {})",
        what,
        h.version,
        kTokenFileOldestVersion,
        kTokenFileVersion));
  }
  h.width_bits = get_u32(p + 12);
  check_width(h.width_bits, what);
  h.num_tokens = get_u64(p + 16);
  h.checksum = get_u64(p + 24);
  const char* name = reinterpret_cast<const char*>(p + 32);
  h.vocab_name.assign(name, strnlen(name, kTokenFileMaxVocabName));
  check_vocab_name(h.vocab_name, what);
  return h;
}

namespace {

void check_size(
    const TokenFileHeader& h, uint64_t size, std::string_view what) {
  const uint64_t w = h.width_bits / 8;
  const bool overflow = h.num_tokens > (UINT64_MAX - kTokenFileHeaderSize) / w;
  const uint64_t expected = kTokenFileHeaderSize + h.num_tokens * w;
  if (overflow || size != expected) {
    throw TokenizerError(fmt::format(
        "token file {}: size {} does not match the header (expected {} + {} * "
        "{} = {} bytes); hint: the file is truncated or corrupt",
        what,
        size,
        kTokenFileHeaderSize,
        w,
        h.num_tokens,
        overflow ? std::string("overflow") : std::to_string(expected)));
  }
}

}  // namespace

TokenFileHeader read_token_file_header(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    // read_file names the reason consistently.
    read_file(path);
    throw Error(fmt::format("read {}: cannot open", path));
  }
  std::array<char, kTokenFileHeaderSize> buf{};
  const size_t got = std::fread(buf.data(), 1, buf.size(), f);
  std::fseek(f, 0, SEEK_END);
  const long size = std::ftell(f);
  std::fclose(f);
  TokenFileHeader h =
      parse_token_file_header(std::string_view(buf.data(), got), path);
  check_size(h, static_cast<uint64_t>(size), path);
  return h;
}

std::vector<TokenId> decode_token_file(
    std::string_view bytes, std::string_view what) {
  const TokenFileHeader h = parse_token_file_header(bytes, what);
  check_size(h, bytes.size(), what);
  const auto* payload = reinterpret_cast<const unsigned char*>(bytes.data()) +
                        kTokenFileHeaderSize;
  PayloadChecksum sum(h.version);
  sum.update(payload, bytes.size() - kTokenFileHeaderSize);
  check_payload_checksum(h, sum.digest(), what);
  return unpack_ids(payload, h.num_tokens, h.width_bits);
}

std::vector<TokenId> read_token_file(const std::string& path) {
  return decode_token_file(read_file(path), path);
}

bool is_token_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  char magic[8] = {};
  const size_t got = std::fread(magic, 1, sizeof magic, f);
  std::fclose(f);
  return got == sizeof magic && std::memcmp(magic, kTokenFileMagic, 8) == 0;
}

}  // namespace ember
