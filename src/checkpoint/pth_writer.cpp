#include <set>
#include <vector>

#include "ember/checkpoint/pth.hpp"
#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>
#include <fmt/core.h>

#include <ember/checkpoint/pickle.hpp>
#include <ember/checkpoint/storage_type.hpp>
#include <ember/checkpoint/zip_archive.hpp>
#include <ember/util/error.hpp>
#include <ember/util/io.hpp>

namespace ember {
namespace {

constexpr const char* kOrderedDict = "collections.OrderedDict";
constexpr const char* kRebuildTensor = "torch._utils._rebuild_tensor_v2";

// The global torch.save names a storage of `dtype` by.
const char* storage_name(const std::string& name, c10::ScalarType dtype) {
  const StorageType* type = storage_type_of(dtype);
  if (type == nullptr || type->quantized) {
    throw Error(fmt::format(
        "write_pth: tensor '{}' has dtype {}, which has no torch storage type",
        name,
        c10::toString(dtype)));
  }
  return type->name;
}

// torch.save(OrderedDict(sd)): OrderedDict() (memo 0), then per tensor
// _rebuild_tensor_v2 (memo 1) of ('storage', torch.<T>Storage, '<i>', 'cpu',
// numel), offset 0, its size and stride, False, OrderedDict().
std::string state_dict_pickle(
    const StateDict& sd, const std::vector<at::Tensor>& data) {
  PickleWriter p;
  p.ops("\x80\x02", 2);  // PROTO 2
  p.global(kOrderedDict);
  p.ops("q\0)R(", 5);  // BINPUT 0, EMPTY_TUPLE, REDUCE, MARK
  for (size_t i = 0; i < sd.size(); ++i) {
    const at::Tensor& t = data[i];
    p.str(sd[i].first);
    if (i == 0) {
      p.global(kRebuildTensor);
      p.ops("q\1", 2);  // BINPUT 1
    } else {
      p.ops("h\1", 2);  // BINGET 1
    }
    p.ops("((", 2);  // MARK (the arguments), MARK (the persistent id)
    p.str("storage");
    p.global(storage_name(sd[i].first, t.scalar_type()));
    p.str(std::to_string(i));
    p.str("cpu");
    p.integer(t.numel());
    p.ops("tQ", 2);  // TUPLE, BINPERSID
    p.integer(0);
    p.int_tuple(t.sizes());
    p.int_tuple(t.strides());
    p.ops("\x89h\0)RtR", 7);  // False, OrderedDict(), TUPLE, REDUCE
  }
  p.ops("u.", 2);  // SETITEMS, STOP
  return p.out;
}

// torch.save's file for `sd`: the pieces point into `data` (contiguous CPU
// copies of the tensors), `pickle` and `zip`, so it is built in place.
struct PthOut {
  std::vector<at::Tensor> data;
  std::string pickle;
  ZipWriter zip;
  std::vector<std::string_view> pieces;

  PthOut(const StateDict& sd, bool force_zip64) : zip(force_zip64) {
    std::set<std::string> names;
    for (const auto& [name, t] : sd) {
      if (name.empty()) throw Error("write_pth: a tensor has an empty name");
      if (!names.insert(name).second) {
        throw Error(fmt::format("write_pth: duplicate key '{}'", name));
      }
      if (!t.defined() || t.layout() != c10::kStrided || t.is_quantized()) {
        throw Error(fmt::format(
            "write_pth: tensor '{}' is undefined, sparse or quantized "
            "(expected a dense tensor)",
            name));
      }
      data.push_back(t.to(c10::kCPU).contiguous());
    }
    pickle = state_dict_pickle(sd, data);
    zip.add("archive/data.pkl", pickle);
    for (size_t i = 0; i < data.size(); ++i) {
      zip.add(
          fmt::format("archive/data/{}", i),
          {static_cast<const char*>(data[i].data_ptr()), data[i].nbytes()});
    }
    zip.add("archive/version", "3\n");
    pieces = zip.finish();
  }
  PthOut(const PthOut&) = delete;
  PthOut& operator=(const PthOut&) = delete;
};

}  // namespace

void write_pth(const std::string& path, const StateDict& sd) {
  const PthOut out(sd, false);
  write_file_atomic(path, out.pieces);
}

std::string detail::pth_bytes(const StateDict& sd, bool force_zip64) {
  const PthOut out(sd, force_zip64);
  std::string bytes;
  for (const auto piece : out.pieces) bytes += piece;
  return bytes;
}

}  // namespace ember
