// The tensor side of a PyTorch .pth (checkpoint/pth.hpp): its storage
// records "<prefix>data/<key>", checked against their CRC-32 and against
// the element counts the pickle claims, read as views of the mapped file
// (or copies); and the views torch._utils._rebuild_tensor_v2 makes of them,
// checked to lie inside. Used by the allow-list unpickler in
// src/checkpoint/pth.cpp, which names the pickle's byte in each error.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <ATen/core/Tensor.h>

#include <ember/checkpoint/storage_type.hpp>
#include <ember/checkpoint/zip_archive.hpp>
#include <ember/util/error.hpp>

namespace ember {

class MappedFile;

namespace detail {

/// A storage or view the pickle describes and the file cannot back; the
/// unpickler adds the pickle's name and byte offset to the message.
class PthValueError : public Error {
 public:
  using Error::Error;
};

/// The bytes of record `name`, once their CRC-32 matches the directory's
/// (when `check_crc`; a flipped byte in a weight would otherwise go
/// unnoticed). Throws ember::Error "<path>: record '<name>' is damaged
/// (CRC-32 ..., expected ...)".
std::string_view checked_record(
    std::string_view file,
    const std::string& path,
    const std::string& name,
    const ArchiveRecord& r,
    bool check_crc);

/// The storages of one torch.save zip, each read once.
class PthStorages {
 public:
  /// `mapped` (may be null) is the mapping whose bytes are `file`: the
  /// storages then view it instead of copying.
  PthStorages(
      std::string_view file,
      const std::map<std::string, ArchiveRecord>& records,
      std::string path,
      std::string prefix,
      bool check_crc,
      std::shared_ptr<const MappedFile> mapped);

  /// The 1-D storage `key`, `numel` elements of `type`, from record
  /// "<prefix>data/<key>" (its name in `record`). Throws PthValueError when
  /// the record is missing, compressed or too short, a bool byte is not 0
  /// or 1, or the key was named before with another type or size; Error
  /// when its CRC-32 differs.
  at::Tensor get(
      const StorageType& type,
      const std::string& key,
      int64_t numel,
      std::string& record);

 private:
  std::string_view file_;
  const std::map<std::string, ArchiveRecord>& records_;
  std::string path_;
  std::string prefix_;  // "archive/"
  bool check_crc_;
  std::shared_ptr<const MappedFile> mapped_;
  std::map<std::string, at::Tensor> by_key_;

  at::Tensor tensor_of(
      std::string_view src, c10::ScalarType dtype, int64_t numel) const;
};

/// storage.as_strided(size, stride, offset), the sizes and strides >= 0:
/// throws PthValueError (naming `record`) when the view reaches past the
/// storage or holds more elements than it (a zero-stride view could
/// otherwise claim 2^62 of them).
at::Tensor storage_view(
    const at::Tensor& storage,
    const std::string& record,
    int64_t offset,
    const std::vector<int64_t>& size,
    const std::vector<int64_t>& stride);

}  // namespace detail
}  // namespace ember
