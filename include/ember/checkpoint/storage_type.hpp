// The one table of element types the weight readers and writers know: the
// global torch.save names a storage by (torch/storage.py
// _pickle_storage_type), its dtype and element size, and the safetensors
// dtype name (Hugging Face's safetensors/src/tensor.rs Dtype). Used by the
// .pth reader and writer, the LibTorch archive check and safetensors. Leaves
// out the types none of them meets (e.g. float8, unsigned 16-64 bit).
#pragma once

#include <string_view>

#include <c10/core/ScalarType.h>

namespace ember {

struct StorageType {
  const char* name;         // "torch.FloatStorage"
  c10::ScalarType dtype;    // c10::kFloat
  int item_size;            // bytes per element
  const char* safetensors;  // "F32"; nullptr where the format has none
  bool quantized;           // only LibTorch archives hold these
};

// Dense types first, in the order safetensors' error messages list them.
inline constexpr StorageType kStorageTypes[] = {
    {"torch.DoubleStorage", c10::kDouble, 8, "F64", false},
    {"torch.FloatStorage", c10::kFloat, 4, "F32", false},
    {"torch.HalfStorage", c10::kHalf, 2, "F16", false},
    {"torch.BFloat16Storage", c10::kBFloat16, 2, "BF16", false},
    {"torch.LongStorage", c10::kLong, 8, "I64", false},
    {"torch.IntStorage", c10::kInt, 4, "I32", false},
    {"torch.ShortStorage", c10::kShort, 2, "I16", false},
    {"torch.CharStorage", c10::kChar, 1, "I8", false},
    {"torch.ByteStorage", c10::kByte, 1, "U8", false},
    {"torch.BoolStorage", c10::kBool, 1, "BOOL", false},
    {"torch.ComplexFloatStorage", c10::kComplexFloat, 8, nullptr, false},
    {"torch.ComplexDoubleStorage", c10::kComplexDouble, 16, nullptr, false},
    {"torch.QInt8Storage", c10::kQInt8, 1, nullptr, true},
    {"torch.QUInt8Storage", c10::kQUInt8, 1, nullptr, true},
    {"torch.QInt32Storage", c10::kQInt32, 4, nullptr, true},
    {"torch.QUInt4x2Storage", c10::kQUInt4x2, 1, nullptr, true},
    {"torch.QUInt2x4Storage", c10::kQUInt2x4, 1, nullptr, true},
};

/// The type torch.save names `global` ("torch.FloatStorage"), or nullptr.
inline const StorageType* storage_type_named(std::string_view global) {
  for (const auto& t : kStorageTypes) {
    if (global == t.name) return &t;
  }
  return nullptr;
}

/// The type of `dtype`, or nullptr when it has no storage type.
inline const StorageType* storage_type_of(c10::ScalarType dtype) {
  for (const auto& t : kStorageTypes) {
    if (t.dtype == dtype) return &t;
  }
  return nullptr;
}

/// The type whose safetensors name is `name` ("F32"), or nullptr.
inline const StorageType* safetensors_type_named(std::string_view name) {
  for (const auto& t : kStorageTypes) {
    if (t.safetensors != nullptr && name == t.safetensors) return &t;
  }
  return nullptr;
}

}  // namespace ember
