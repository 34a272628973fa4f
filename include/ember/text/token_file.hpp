// Token files: a flat binary file of token ids behind a small fixed header, as
// nanoGPT's and llm.c's .bin shards are, so that a corpus is tokenized once
// and memory-mapped later. Layout: docs/token_file.md. Plain C++17, no
// LibTorch. Leaves out memory-mapping (the dataset's job) and compression.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <ember/text/tokenizer.hpp>
#include <ember/text/xxh64.hpp>
#include <ember/util/atomic_file.hpp>

namespace ember {

/// The file's first 8 bytes.
inline constexpr char kTokenFileMagic[9] = "EMBERTOK";
/// The format version this code writes: 2 (XXH64 checksum). It also reads
/// version 1 (FNV-1a 64 checksum, otherwise the same layout).
inline constexpr uint32_t kTokenFileVersion = 2;
inline constexpr uint32_t kTokenFileOldestVersion = 1;
/// Header size in bytes; the payload starts here (8-byte aligned for mmap).
inline constexpr size_t kTokenFileHeaderSize = 64;
/// Longest vocabulary name the header holds.
inline constexpr size_t kTokenFileMaxVocabName = 32;

/// The decoded header of a token file.
struct TokenFileHeader {
  uint32_t version = kTokenFileVersion;
  uint32_t width_bits = 16;  // 16 or 32
  uint64_t num_tokens = 0;
  uint64_t checksum = 0;   // of the payload bytes (PayloadChecksum)
  std::string vocab_name;  // e.g. "gpt2"
};

/// FNV-1a 64 over `n` bytes, continuing from `state` (start with the default:
/// the FNV offset basis). fnv1a64("a", 1) == 0xaf63dc4c8601ec8c.
uint64_t fnv1a64(
    const void* data, size_t n, uint64_t state = 0xcbf29ce484222325ull);

/// The payload checksum of a token file of format `version`: FNV-1a 64 for
/// version 1, XXH64 (seed 0) for version 2; fed in pieces of any size.
class PayloadChecksum {
 public:
  explicit PayloadChecksum(uint32_t version = kTokenFileVersion);
  void update(const void* data, size_t n);
  uint64_t digest() const;

 private:
  uint32_t version_;
  uint64_t fnv_;
  Xxh64 xxh_;
};

/// Throws TokenizerError ("token file <what>: checksum mismatch (got ...,
/// expected ...); hint: the file is corrupt") unless `got` is the header's.
void check_payload_checksum(
    const TokenFileHeader& h, uint64_t got, std::string_view what);

/// The smallest width (16 or 32) that holds every id of a vocabulary of
/// `vocab_size` ids: 16 for GPT-2.
uint32_t token_width_for(size_t vocab_size);

/// Writes a token file incrementally: append() ids in chunks of any size,
/// then finish(). The file appears atomically at `path` on finish() (it is
/// written beside it under a temporary name and renamed); a writer destroyed
/// before finish() removes its temporary file and leaves `path` untouched.
/// Throws Error on I/O failure and TokenizerError on an id that does not fit
/// the width ("token file <path>: id 70000 at index 5 does not fit in 16
/// bits; hint: use bin32").
class TokenFileWriter {
 public:
  TokenFileWriter(
      std::string path, uint32_t width_bits, std::string vocab_name = "gpt2");
  ~TokenFileWriter();
  TokenFileWriter(const TokenFileWriter&) = delete;
  TokenFileWriter& operator=(const TokenFileWriter&) = delete;

  void append(const TokenId* ids, size_t n);
  void append(const std::vector<TokenId>& ids) {
    append(ids.data(), ids.size());
  }
  /// Writes the header (count and checksum), flushes to disk, renames.
  void finish();
  uint64_t num_tokens() const {
    return num_tokens_;
  }

 private:
  void write_raw(const void* data, size_t n);
  std::string path_;
  uint32_t width_bits_;
  std::string vocab_name_;
  std::unique_ptr<AtomicFile> file_;  // null after finish()
  uint64_t num_tokens_ = 0;
  PayloadChecksum checksum_;
  std::vector<unsigned char> buffer_;
};

/// The bytes of a whole token file holding `ids` (header + payload), for
/// writing to a stream. Same checks as TokenFileWriter.
std::string encode_token_file(
    const std::vector<TokenId>& ids,
    uint32_t width_bits,
    std::string_view vocab_name = "gpt2");

/// Parses and checks a header: magic, version, width and vocabulary name.
/// `what` names the file in messages. Throws TokenizerError.
TokenFileHeader parse_token_file_header(
    std::string_view bytes, std::string_view what);

/// Reads the header of the token file at `path` and checks it against the
/// file's size. Throws Error if unreadable, TokenizerError if not a valid
/// token file ("token file x.bin: size 70 does not match the header (expected
/// 64 + 2 * 4 = 72 bytes); hint: the file is truncated").
TokenFileHeader read_token_file_header(const std::string& path);

/// True when the file at `path` starts with the 8 magic bytes (so it is
/// meant as a token file; whether it is a valid one, the readers check).
/// False for a shorter, unreadable or missing file.
bool is_token_file(const std::string& path);

/// Reads a whole token file and verifies everything, the checksum included.
std::vector<TokenId> read_token_file(const std::string& path);

/// Same as read_token_file, from the file's bytes (e.g. read from stdin).
std::vector<TokenId> decode_token_file(
    std::string_view bytes, std::string_view what);

}  // namespace ember
