// A bounds check of a LibTorch archive (the zip that torch::serialize and
// TorchScript write) before LibTorch reads it. LibTorch 1.13 trusts the
// lengths inside: a pickle string length allocates that much before reading
// (4 GiB from a 100-byte file), and a tensor storage gets the element count
// the pickle states, not the size of the record behind it (a heap overflow
// on first use); its memo grows to whatever key a pickle names; and it
// compiles the archive's TorchScript source, which crashes on some altered
// programs. All were found by fuzz/checkpoint_fuzz.cpp. Plain C++17 and zlib
// (LibTorch's headers only for the storage type table).
#pragma once

#include <string_view>

#include <ember/checkpoint/zip_archive.hpp>

namespace ember {

/// Checks what LibTorch would trust: the zip structure (list_zip_records);
/// the TorchScript source, which may only be `code/__torch__.py` holding the
/// attribute declarations of a saved tensor archive (inflated with zlib; a
/// build without zlib refuses it); then each pickle (`<dir>/<name>.pkl` and
/// `*.debug_pkl`, which must be stored and at most kMaxPickleBytes): every
/// opcode known and complete, every length within the record, memo keys
/// numbered in order, what it makes within kMaxPickleObjects and
/// kMaxPickleMemory (checkpoint/pickle.hpp), and every
/// tensor storage it names (persistent id ('storage', torch.<T>Storage, key,
/// location, numel)) backed by a record `<dir>/<name>/<key>` of at least
/// numel x sizeof(T) bytes. Throws ember::Error naming the record, the byte
/// offset or line within it and what is wrong.
void check_torch_archive(std::string_view zip);

}  // namespace ember
