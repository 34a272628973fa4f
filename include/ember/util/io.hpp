// File helpers shared by the tokenizer, the data pipeline and the driver:
// whole-file reads with errors that name the file and the reason, and atomic
// writes (temp file, fsync, rename) so a crash never leaves a torn file.
// Plain C++17, no LibTorch.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ember {

/// Reads a whole file as bytes. Throws ember::Error naming `path` when it is
/// missing, a directory, or unreadable: "read <path>: no such file".
std::string read_file(const std::string& path);

/// read_file(path), or all of stdin for "-" ("read <stdin>: <reason>").
std::string read_file_or_stdin(const std::string& path);

/// Writes `data` to stdout and flushes it. Throws ember::Error
/// ("write <stdout>: <reason>") when stdout fails, e.g. a closed pipe.
void write_stdout(std::string_view data);

/// Writes `data` to `path` atomically: a temp file beside it is written,
/// flushed to disk and renamed over `path`. On any failure (disk full,
/// permission) the old `path` is untouched and ember::Error is thrown.
void write_file_atomic(const std::string& path, std::string_view data);

/// write_file_atomic of the pieces one after another, without joining them
/// first (a weight file's tensors are written from their own memory).
void write_file_atomic(
    const std::string& path, const std::vector<std::string_view>& pieces);

/// A short lowercase reason for an errno value, for messages like
/// "read <path>: no such file" ("permission denied", "no space left on
/// device", "is a directory, expected a file", else strerror).
std::string errno_text(int err);

/// Removes a file or a folder with everything in it; a missing path is not an
/// error. Returns false when something could not be removed. (POSIX nftw, not
/// std::filesystem::remove_all: PyTorch 2.x wheels export a broken copy of
/// that function from libtorch.so, which wins the dynamic symbol lookup.)
bool remove_tree(const std::string& path) noexcept;

/// Folder holding encoder.json and vocab.bpe: $EMBER_GPT2_DIR if set, else
/// `<data dir of the build>/gpt2` (placed there by scripts/setup.sh).
std::string gpt2_vocab_dir();

/// Returns the byte offset of the first invalid UTF-8 byte in `text` (over-
/// long forms, surrogates and code points above U+10FFFF are invalid), or
/// std::nullopt when `text` is valid UTF-8.
std::optional<size_t> find_invalid_utf8(std::string_view text);

/// Hex SHA-256 of `data` (OpenSSL libcrypto), for pinning vocabulary files.
/// sha256_hex("abc") == "ba7816bf...f20015ad". Throws Error if OpenSSL fails.
std::string sha256_hex(std::string_view data);

}  // namespace ember
