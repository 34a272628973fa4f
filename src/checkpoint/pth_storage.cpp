#include "ember/checkpoint/pth_storage.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <fmt/core.h>
#include <fmt/ranges.h>

#include <ember/util/mapped_file.hpp>

namespace ember {

std::string_view detail::checked_record(
    std::string_view file,
    const std::string& path,
    const std::string& name,
    const ArchiveRecord& r,
    bool check_crc) {
  const std::string_view bytes = file.substr(r.data_offset, r.size);
#if EMBER_HAVE_ZLIB
  if (!check_crc) return bytes;
  const uint32_t crc = zip_crc32(bytes);
  if (crc != r.crc32) {
    throw Error(fmt::format(
        "{}: record '{}' is damaged (CRC-32 {:08x}, expected {:08x})",
        path,
        name,
        crc,
        r.crc32));
  }
#else
  (void)path;
  (void)name;
  (void)check_crc;
#endif
  return bytes;
}

detail::PthStorages::PthStorages(
    std::string_view file,
    const std::map<std::string, ArchiveRecord>& records,
    std::string path,
    std::string prefix,
    bool check_crc,
    std::shared_ptr<const MappedFile> mapped)
    : file_(file),
      records_(records),
      path_(std::move(path)),
      prefix_(std::move(prefix)),
      check_crc_(check_crc),
      mapped_(std::move(mapped)) {}

at::Tensor detail::PthStorages::get(
    const StorageType& type,
    const std::string& key,
    int64_t numel,
    std::string& record) {
  record = prefix_ + "data/" + key;
  if (const auto it = by_key_.find(key); it != by_key_.end()) {
    if (it->second.scalar_type() != type.dtype || it->second.numel() != numel) {
      throw PthValueError(fmt::format(
          "storage '{}' is named twice with different types or sizes", key));
    }
    return it->second;
  }
  const auto it = records_.find(record);
  if (it == records_.end()) {
    throw PthValueError(fmt::format("storage record '{}' is missing", record));
  }
  const uint64_t item = c10::elementSize(type.dtype);
  if (it->second.deflated) {
    throw PthValueError(fmt::format(
        "storage record '{}' is compressed (torch.save stores it)", record));
  }
  if (numel < 0 || static_cast<uint64_t>(numel) > it->second.size / item) {
    throw PthValueError(fmt::format(
        "storage record '{}' holds {} bytes, too few for {} elements of {} "
        "bytes",
        record,
        it->second.size,
        numel,
        item));
  }
  const std::string_view src =
      checked_record(file_, path_, record, it->second, check_crc_)
          .substr(0, static_cast<size_t>(numel) * item);
  if (type.dtype == c10::kBool) {
    for (size_t k = 0; k < src.size(); ++k) {
      if (src[k] != 0 && src[k] != 1) {  // any other byte is no C++ bool
        throw PthValueError(fmt::format(
            "storage record '{}': byte {} is not a bool (0 or 1)", record, k));
      }
    }
  }
  return by_key_[key] = tensor_of(src, type.dtype, numel);
}

// A read-only view of the mapped file when there is one and the record is
// aligned for its elements (torch.save aligns every record to 64 bytes),
// else a copy. The view drops its pages from the resident set when the last
// tensor on it goes: a loader that copies each weight into the model and
// lets it go holds about one copy of the model (docs/weights.md).
at::Tensor detail::PthStorages::tensor_of(
    std::string_view src, c10::ScalarType dtype, int64_t numel) const {
  const auto options = at::TensorOptions().dtype(dtype);
  const auto item = c10::elementSize(dtype);
  if (mapped_ != nullptr &&
      reinterpret_cast<uintptr_t>(src.data()) % item == 0) {
    auto file = mapped_;
    const auto offset =
        static_cast<uint64_t>(src.data() - file->bytes().data());
    const uint64_t n = src.size();
    file->drop_pages(offset, n);  // the CRC-32 check read them once
    return at::from_blob(
        const_cast<char*>(src.data()),
        {numel},
        [file, offset, n](void*) { file->drop_pages(offset, n); },
        options);
  }
  at::Tensor t = at::empty({numel}, options);
  if (!src.empty()) std::memcpy(t.data_ptr(), src.data(), src.size());
  return t;
}

at::Tensor detail::storage_view(
    const at::Tensor& storage,
    const std::string& record,
    int64_t offset,
    const std::vector<int64_t>& size,
    const std::vector<int64_t>& stride) {
  const int64_t capacity = storage.numel();
  int64_t numel = 1;
  int64_t last = offset;  // index of the view's last element
  bool out = last < 0 || last > capacity;
  for (size_t d = 0; d < size.size(); ++d) {
    const int64_t n = size[d];
    const int64_t s = stride[d];
    if (numel != 0) numel = n > capacity / numel ? capacity + 1 : numel * n;
    if (n > 1) {
      // last += (n - 1) * s, staying <= capacity
      out = out || s > (capacity - std::min(last, capacity)) / (n - 1);
      if (!out) last += (n - 1) * s;
    }
  }
  if (numel == 0) return at::empty(size, storage.options());
  if (numel > capacity) {
    throw PthValueError(fmt::format(
        "a tensor of size {} has more elements than its storage '{}' ({}); "
        "hint: save a .contiguous() copy",
        fmt::join(size, "x"),
        record,
        capacity));
  }
  if (out || last >= capacity) {
    throw PthValueError(fmt::format(
        "a tensor (offset {}, size {}, stride {}) reaches past the {} "
        "elements of storage '{}'",
        offset,
        fmt::join(size, "x"),
        fmt::join(stride, ","),
        capacity,
        record));
  }
  return storage.as_strided(size, stride, offset);
}

}  // namespace ember
