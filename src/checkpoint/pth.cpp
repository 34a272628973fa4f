#include "ember/checkpoint/pth.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/core/ScalarType.h>
#include <fmt/core.h>
#include <fmt/ranges.h>
#if EMBER_HAVE_ZLIB
#include <zlib.h>
#endif

#include <ember/checkpoint/torch_archive.hpp>
#include <ember/util/error.hpp>
#include <ember/util/io.hpp>

namespace ember {
namespace {

// --- storage types (torch/storage.py _pickle_storage_type) -------------------

struct StorageType {
  const char* name;  // the global torch.save writes
  c10::ScalarType dtype;
};

constexpr StorageType kStorageTypes[] = {
    {"torch.DoubleStorage", c10::kDouble},
    {"torch.FloatStorage", c10::kFloat},
    {"torch.HalfStorage", c10::kHalf},
    {"torch.BFloat16Storage", c10::kBFloat16},
    {"torch.LongStorage", c10::kLong},
    {"torch.IntStorage", c10::kInt},
    {"torch.ShortStorage", c10::kShort},
    {"torch.CharStorage", c10::kChar},
    {"torch.ByteStorage", c10::kByte},
    {"torch.BoolStorage", c10::kBool},
    {"torch.ComplexFloatStorage", c10::kComplexFloat},
    {"torch.ComplexDoubleStorage", c10::kComplexDouble},
};

// --- the allow-list unpickler (torch/_weights_only_unpickler.py) -------------

// A value of the pickle. All live in the unpickler's arena and point at each
// other with raw pointers: no reference cycles (SETITEM can put a dict into
// itself) and no recursive destruction (tuples nest as deep as the file).
struct Value {
  enum Kind {
    kNone,
    kBool,
    kInt,
    kFloat,
    kStr,
    kTuple,
    kList,
    kDict,
    kGlobal,
    kStorage,
    kTensor
  } kind = kNone;
  int64_t num = 0;  // kBool, kInt
  std::string str;  // kStr; kGlobal: "module.name"; kStorage: its record
  std::vector<Value*> items;   // kTuple, kList; kDict: key, value, key, ...
  std::set<std::string> keys;  // kDict: its string keys, for duplicates
  at::Tensor tensor;           // kStorage: 1-D, all of it; kTensor
  const StorageType* storage_type = nullptr;  // kGlobal of a storage type
};

const char* kind_name(Value::Kind k) {
  static const char* const kNames[] = {
      "None",
      "bool",
      "int",
      "float",
      "str",
      "tuple",
      "list",
      "dict",
      "global",
      "storage",
      "tensor"};
  return kNames[k];
}

// The globals a state dict needs (torch 1.13's _get_allowed_globals, less
// the sparse, meta and legacy rebuilds, dtypes and tensor classes, which
// torch.save of a dense state dict never writes).
constexpr const char* kOrderedDict = "collections.OrderedDict";
constexpr const char* kRebuildTensor = "torch._utils._rebuild_tensor_v2";
constexpr const char* kRebuildParameter = "torch._utils._rebuild_parameter";

// The record's bytes, once their CRC-32 matches the directory's (a flipped
// byte in a weight would otherwise go unnoticed).
std::string_view checked_record(
    std::string_view file,
    const std::string& path,
    const std::string& name,
    const ArchiveRecord& r,
    bool check_crc) {
  const std::string_view bytes = file.substr(r.data_offset, r.size);
#if EMBER_HAVE_ZLIB
  if (!check_crc) return bytes;
  const auto crc = static_cast<uint32_t>(
      crc32_z(0, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size()));
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

// 64 MiB of pickle: a state dict of GPT-2 XL's 580 tensors takes 40 KB.
constexpr uint64_t kMaxPickle = uint64_t{64} << 20;

class PthUnpickler : detail::PickleCursor<PthUnpickler> {
 public:
  PthUnpickler(
      std::string_view file,
      const std::map<std::string, ArchiveRecord>& records,
      std::string path,
      std::string pickle,
      std::string prefix,
      bool check_crc)
      : file_(file),
        records_(records),
        path_(std::move(path)),
        pickle_(std::move(pickle)),
        prefix_(std::move(prefix)),
        check_crc_(check_crc) {
    data_ =
        checked_record(file, path_, pickle_, records.at(pickle_), check_crc_);
  }

  StateDict run();

 private:
  friend class detail::PickleCursor<PthUnpickler>;
  std::string_view file_;
  const std::map<std::string, ArchiveRecord>& records_;
  std::string path_;
  std::string pickle_;  // "<prefix>data.pkl"
  std::string prefix_;  // "archive/"
  bool check_crc_;
  std::deque<Value> arena_;
  std::vector<Value*> stack_;
  std::vector<size_t> marks_;
  std::map<uint64_t, Value*> memo_;
  std::map<std::string, Value*> storages_;  // by key

  [[noreturn]] void fail(size_t at, const std::string& what) const {
    throw Error(fmt::format("{}: '{}' byte {}: {}", path_, pickle_, at, what));
  }
  Value* make(Value::Kind kind) {
    arena_.emplace_back();
    arena_.back().kind = kind;
    return &arena_.back();
  }
  Value* pop(size_t at) {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) {
      fail(at, "pops an empty stack");
    }
    Value* v = stack_.back();
    stack_.pop_back();
    return v;
  }
  Value* top(size_t at) {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) {
      fail(at, "reads an empty stack");
    }
    return stack_.back();
  }
  std::vector<Value*> pop_mark(size_t at) {
    if (marks_.empty()) fail(at, "no MARK to pop to");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Value*> items(
        stack_.begin() + static_cast<ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  void push_int(int64_t n) {
    Value* v = make(Value::kInt);
    v->num = n;
    stack_.push_back(v);
  }
  void push_str(std::string_view s) {
    Value* v = make(Value::kStr);
    v->str = std::string(s);
    stack_.push_back(v);
  }
  void push_tuple(std::vector<Value*> items) {
    Value* v = make(Value::kTuple);
    v->items = std::move(items);
    stack_.push_back(v);
  }

  bool scalar(size_t at, unsigned char op);
  void step(size_t at, unsigned char op);
  void global(size_t at, const std::string& name);
  void set_item(size_t at, Value* dict, Value* key, Value* value);
  void append(size_t at, std::vector<Value*> items);
  void reduce(size_t at);
  void persistent_id(size_t at);
  Value* storage(
      size_t at,
      const StorageType& type,
      const std::string& key,
      int64_t numel);
  at::Tensor rebuild_tensor(size_t at, const std::vector<Value*>& args);
  StateDict result(size_t at, const Value& v) const;
};

void PthUnpickler::global(size_t at, const std::string& name) {
  Value* v = make(Value::kGlobal);
  v->str = name;
  for (const auto& type : kStorageTypes) {
    if (name == type.name) v->storage_type = &type;
  }
  if (v->storage_type == nullptr && name != kOrderedDict &&
      name != kRebuildTensor && name != kRebuildParameter) {
    fail(
        at,
        fmt::format(
            "global '{}' is not allowed (a weights file holds a dict of "
            "tensors: {}, {}, torch.<T>Storage); hint: save "
            "model.state_dict(), not the model",
            name,
            kOrderedDict,
            kRebuildTensor));
  }
  stack_.push_back(v);
}

void PthUnpickler::set_item(size_t at, Value* dict, Value* key, Value* value) {
  if (dict->kind != Value::kDict) {
    fail(at, fmt::format("SETITEM on a {}, not a dict", kind_name(dict->kind)));
  }
  if (key->kind == Value::kStr && !dict->keys.insert(key->str).second) {
    fail(at, fmt::format("duplicate key '{}'", key->str));
  }
  dict->items.push_back(key);
  dict->items.push_back(value);
}

void PthUnpickler::append(size_t at, std::vector<Value*> items) {
  Value* list = top(at);
  if (list->kind != Value::kList) {
    fail(at, fmt::format("APPEND to a {}, not a list", kind_name(list->kind)));
  }
  list->items.insert(list->items.end(), items.begin(), items.end());
}

// REDUCE: only OrderedDict(), _rebuild_tensor_v2(...) and
// _rebuild_parameter(tensor, requires_grad, hooks) are called.
void PthUnpickler::reduce(size_t at) {
  Value* args = pop(at);
  Value* func = pop(at);
  if (args->kind != Value::kTuple) {
    fail(
        at,
        fmt::format(
            "REDUCE with a {} of arguments, not a tuple",
            kind_name(args->kind)));
  }
  if (func->kind == Value::kGlobal && func->str == kOrderedDict) {
    if (!args->items.empty()) fail(at, "OrderedDict() with arguments");
    stack_.push_back(make(Value::kDict));
    return;
  }
  Value* t = make(Value::kTensor);
  if (func->kind == Value::kGlobal && func->str == kRebuildTensor) {
    t->tensor = rebuild_tensor(at, args->items);
  } else if (func->kind == Value::kGlobal && func->str == kRebuildParameter) {
    if (args->items.size() != 3 || args->items[0]->kind != Value::kTensor) {
      fail(at, "_rebuild_parameter takes (tensor, requires_grad, hooks)");
    }
    t->tensor = args->items[0]->tensor;
  } else {
    fail(
        at,
        fmt::format(
            "REDUCE calls a {} '{}' (expected {}, {} or {})",
            kind_name(func->kind),
            func->str,
            kOrderedDict,
            kRebuildTensor,
            kRebuildParameter));
  }
  stack_.push_back(t);
}

// The 1-D storage `key`, read from "<prefix>data/<key>" the first time.
Value* PthUnpickler::storage(
    size_t at, const StorageType& type, const std::string& key, int64_t numel) {
  if (const auto it = storages_.find(key); it != storages_.end()) {
    Value* s = it->second;
    if (s->tensor.scalar_type() != type.dtype || s->tensor.numel() != numel) {
      fail(
          at,
          fmt::format(
              "storage '{}' is named twice with different types or sizes",
              key));
    }
    return s;
  }
  const std::string record = prefix_ + "data/" + key;
  const auto it = records_.find(record);
  if (it == records_.end())
    fail(at, fmt::format("storage record '{}' is missing", record));
  const uint64_t item = c10::elementSize(type.dtype);
  if (it->second.deflated) {
    fail(
        at,
        fmt::format(
            "storage record '{}' is compressed (torch.save stores it)",
            record));
  }
  if (numel < 0 || static_cast<uint64_t>(numel) > it->second.size / item) {
    fail(
        at,
        fmt::format(
            "storage record '{}' holds {} bytes, too few for {} elements "
            "of {} bytes",
            record,
            it->second.size,
            numel,
            item));
  }
  Value* s = make(Value::kStorage);
  s->str = record;
  s->tensor = at::empty({numel}, at::TensorOptions().dtype(type.dtype));
  const auto bytes = static_cast<size_t>(numel) * item;
  const char* src =
      checked_record(file_, path_, record, it->second, check_crc_).data();
  if (type.dtype == c10::kBool) {
    for (size_t k = 0; k < bytes; ++k) {
      if (src[k] != 0 && src[k] != 1) {  // any other byte is no C++ bool
        fail(
            at,
            fmt::format(
                "storage record '{}': byte {} is not a bool (0 or 1)",
                record,
                k));
      }
    }
  }
  if (bytes > 0) std::memcpy(s->tensor.data_ptr(), src, bytes);
  storages_[key] = s;
  return s;
}

// BINPERSID of ('storage', torch.<T>Storage, key, location, numel): the
// storage; the location ('cpu', 'cuda:0') is ignored, as map_location="cpu".
void PthUnpickler::persistent_id(size_t at) {
  const Value* pid = pop(at);
  const auto& p = pid->items;
  if (pid->kind != Value::kTuple || p.size() != 5 ||
      p[0]->kind != Value::kStr || p[0]->str != "storage" ||
      p[1]->kind != Value::kGlobal || p[1]->storage_type == nullptr ||
      p[2]->kind != Value::kStr || p[3]->kind != Value::kStr ||
      p[4]->kind != Value::kInt) {
    fail(
        at,
        "persistent id is not ('storage', torch.<T>Storage, key, location, "
        "numel)");
  }
  stack_.push_back(storage(at, *p[1]->storage_type, p[2]->str, p[4]->num));
}

// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
// backward_hooks[, metadata]): a view of the storage, checked to lie inside
// it. A view may not hold more elements than its storage (a zero-stride
// view could otherwise claim 2^62 of them).
at::Tensor PthUnpickler::rebuild_tensor(
    size_t at, const std::vector<Value*>& a) {
  if ((a.size() != 6 && a.size() != 7) || a[0]->kind != Value::kStorage ||
      a[1]->kind != Value::kInt || a[2]->kind != Value::kTuple ||
      a[3]->kind != Value::kTuple || a[2]->items.size() != a[3]->items.size()) {
    fail(
        at,
        "_rebuild_tensor_v2 takes (storage, offset, size, stride, "
        "requires_grad, hooks[, metadata]) with as many strides as sizes");
  }
  const at::Tensor& storage = a[0]->tensor;
  const int64_t capacity = storage.numel();
  std::vector<int64_t> size;
  std::vector<int64_t> stride;
  int64_t numel = 1;
  int64_t last = a[1]->num;  // index of the view's last element
  bool out = last < 0 || last > capacity;
  for (size_t d = 0; d < a[2]->items.size(); ++d) {
    const Value* n = a[2]->items[d];
    const Value* s = a[3]->items[d];
    if (n->kind != Value::kInt || s->kind != Value::kInt || n->num < 0 ||
        s->num < 0) {
      fail(at, "a tensor size or stride is not an int >= 0");
    }
    size.push_back(n->num);
    stride.push_back(s->num);
    if (numel != 0)
      numel = n->num > capacity / numel ? capacity + 1 : numel * n->num;
    if (n->num > 1) {
      // last += (n - 1) * s, staying <= capacity
      out =
          out || s->num > (capacity - std::min(last, capacity)) / (n->num - 1);
      if (!out) last += (n->num - 1) * s->num;
    }
  }
  if (numel == 0) return at::empty(size, storage.options());
  if (numel > capacity) {
    fail(
        at,
        fmt::format(
            "a tensor of size {} has more elements than its storage '{}' "
            "({}); hint: save a .contiguous() copy",
            fmt::join(size, "x"),
            a[0]->str,
            capacity));
  }
  if (out || last >= capacity) {
    fail(
        at,
        fmt::format(
            "a tensor (offset {}, size {}, stride {}) reaches past the {} "
            "elements of storage '{}'",
            a[1]->num,
            fmt::join(size, "x"),
            fmt::join(stride, ","),
            capacity,
            a[0]->str));
  }
  return storage.as_strided(size, stride, a[1]->num);
}

StateDict PthUnpickler::result(size_t at, const Value& v) const {
  if (v.kind != Value::kDict) {
    fail(
        at,
        fmt::format(
            "the pickle holds a {}, not a dict of tensors; hint: save "
            "model.state_dict(), not the model",
            kind_name(v.kind)));
  }
  StateDict out;
  for (size_t k = 0; k + 1 < v.items.size(); k += 2) {
    const Value& key = *v.items[k];
    const Value& value = *v.items[k + 1];
    if (key.kind != Value::kStr) {
      fail(at, fmt::format("a key is a {}, not a str", kind_name(key.kind)));
    }
    if (value.kind != Value::kTensor) {
      fail(
          at,
          fmt::format(
              "key '{}' holds a {}, not a tensor (a training checkpoint "
              "such as {{'model_state_dict': ...}} is not a state dict; "
              "hint: save its model state dict alone)",
              key.str,
              kind_name(value.kind)));
    }
    out.emplace_back(key.str, value.tensor);
  }
  return out;
}

StateDict PthUnpickler::run() {
  for (;;) {
    size_t at = 0;
    const auto op = next_op(at);
    if (op == '.') {  // STOP
      const Value* v = pop(at);
      return result(at, *v);
    }
    step(at, op);
  }
}

// Opcodes that push a constant, a number or a string; false for others.
// clang-format off
bool PthUnpickler::scalar(size_t at, unsigned char op) {
  switch (op) {
    case 'N': stack_.push_back(make(Value::kNone)); return true;
    case 0x88: case 0x89: {  // NEWTRUE, NEWFALSE
      Value* v = make(Value::kBool);
      v->num = op == 0x88;
      stack_.push_back(v);
      return true;
    }
    case 'K': push_int(static_cast<int64_t>(uint(at, 1, "BININT1"))); return true;
    case 'M': push_int(static_cast<int64_t>(uint(at, 2, "BININT2"))); return true;
    case 'J':
      push_int(static_cast<int32_t>(static_cast<uint32_t>(uint(at, 4, "BININT"))));
      return true;
    case 0x8a: {  // LONG1: n little-endian two's-complement bytes
      const uint64_t n = uint(at, 1, "LONG1");
      if (n > 8) fail(at, fmt::format("LONG1 of {} bytes (at most 8 fit an int64)", n));
      uint64_t v = detail::read_le(take(at, n, "LONG1"), 0, static_cast<int>(n));
      if (n > 0 && n < 8 && ((v >> (8 * n - 1)) & 1)) v |= ~uint64_t{0} << (8 * n);
      push_int(static_cast<int64_t>(v));
      return true;
    }
    case 'G': take(at, 8, "BINFLOAT"); stack_.push_back(make(Value::kFloat)); return true;
    case 'X': push_str(take(at, uint(at, 4, "BINUNICODE"), "BINUNICODE")); return true;
    case 0x8c:
      push_str(take(at, uint(at, 1, "SHORT_BINUNICODE"), "SHORT_BINUNICODE"));
      return true;
    case 'U':
      push_str(take(at, uint(at, 1, "SHORT_BINSTRING"), "SHORT_BINSTRING"));
      return true;
    default: return false;
  }
}
// clang-format on

// One opcode a line, as pickletools lists them.
// clang-format off
void PthUnpickler::step(size_t at, unsigned char op) {
  if (scalar(at, op)) return;
  switch (op) {
    case 0x80: take(at, 1, "PROTO"); break;
    case 0x95: uint(at, 8, "FRAME"); break;  // protocol 4 framing: no-op
    case '(': marks_.push_back(stack_.size()); break;
    case '}': stack_.push_back(make(Value::kDict)); break;
    case ']': stack_.push_back(make(Value::kList)); break;
    case ')': push_tuple({}); break;
    case 't': push_tuple(pop_mark(at)); break;
    case 0x85: case 0x86: case 0x87: {  // TUPLE1..3
      std::vector<Value*> items(static_cast<size_t>(op - 0x84));
      for (size_t k = items.size(); k-- > 0;) items[k] = pop(at);
      push_tuple(std::move(items));
      break;
    }
    case 'a': { Value* v = pop(at); append(at, {v}); break; }  // APPEND
    case 'e': append(at, pop_mark(at)); break;                 // APPENDS
    case 's': {  // SETITEM
      Value* value = pop(at);
      Value* key = pop(at);
      set_item(at, top(at), key, value);
      break;
    }
    case 'u': {  // SETITEMS
      const auto items = pop_mark(at);
      if (items.size() % 2 != 0) fail(at, "SETITEMS with an odd number of items");
      Value* dict = top(at);
      for (size_t k = 0; k < items.size(); k += 2) set_item(at, dict, items[k], items[k + 1]);
      break;
    }
    case 'c': {  // GLOBAL module\nname\n
      const std::string module(line(at, "GLOBAL"));
      global(at, module + "." + std::string(line(at, "GLOBAL")));
      break;
    }
    case 0x93: {  // STACK_GLOBAL
      const Value* name = pop(at);
      const Value* module = pop(at);
      if (name->kind != Value::kStr || module->kind != Value::kStr) {
        fail(at, "STACK_GLOBAL of values that are not strings");
      }
      global(at, module->str + "." + name->str);
      break;
    }
    case 'R': reduce(at); break;
    case 'b':  // BUILD: only the OrderedDict's state (state_dict's _metadata)
      pop(at);
      if (top(at)->kind != Value::kDict) {
        fail(at, fmt::format("BUILD of a {} (only an OrderedDict's state is allowed)",
                             kind_name(top(at)->kind)));
      }
      break;
    case 'Q': persistent_id(at); break;
    case 'q': memo_[uint(at, 1, "BINPUT")] = top(at); break;
    case 'r': memo_[uint(at, 4, "LONG_BINPUT")] = top(at); break;
    case 0x94: memo_[memo_.size()] = top(at); break;  // MEMOIZE
    case 'h': case 'j': {  // BINGET, LONG_BINGET
      const uint64_t key = uint(at, op == 'h' ? 1 : 4, "BINGET");
      const auto it = memo_.find(key);
      if (it == memo_.end()) fail(at, fmt::format("memo {} was never put", key));
      stack_.push_back(it->second);
      break;
    }
    default:
      fail(at, fmt::format("pickle opcode 0x{:02x} is not allowed in a state dict", op));
  }
}
// clang-format on

// --- writing: a protocol-2 pickle and a stored zip, as torch.save ------------

void put_le(std::string& out, uint64_t v, int bytes) {
  for (int k = 0; k < bytes; ++k) {
    out += static_cast<char>((v >> (8 * k)) & 0xFF);
  }
}

// The pickle opcodes torch.save's pickler emits for an OrderedDict of tensors.
struct PickleOut {
  std::string out;

  void ops(const char* bytes, size_t n) {
    out.append(bytes, n);
  }
  void integer(int64_t v) {
    if (v >= 0 && v < 256) {
      out += 'K';
      put_le(out, static_cast<uint64_t>(v), 1);
    } else if (v >= 0 && v < 65536) {
      out += 'M';
      put_le(out, static_cast<uint64_t>(v), 2);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      out += 'J';
      put_le(out, static_cast<uint64_t>(v), 4);
    } else {
      ops("\x8a\x08", 2);  // LONG1 of 8 bytes
      put_le(out, static_cast<uint64_t>(v), 8);
    }
  }
  void str(std::string_view s) {
    out += 'X';
    put_le(out, s.size(), 4);
    out += s;
  }
  // GLOBAL "module\nname\n" of "module.name" (split at the last dot).
  void global(std::string_view dotted) {
    const size_t dot = dotted.rfind('.');
    out += 'c';
    out += dotted.substr(0, dot);
    out += '\n';
    out += dotted.substr(dot + 1);
    out += '\n';
  }
  // EMPTY_TUPLE, TUPLE1..3, or MARK ... TUPLE.
  void int_tuple(c10::IntArrayRef v) {
    if (v.size() > 3) out += '(';
    for (const int64_t x : v) integer(x);
    if (v.size() > 3) {
      out += 't';
    } else {
      out += static_cast<char>(v.empty() ? ')' : 0x84 + v.size());
    }
  }
};

const StorageType& storage_type(
    const std::string& name, c10::ScalarType dtype) {
  for (const auto& type : kStorageTypes) {
    if (type.dtype == dtype) return type;
  }
  throw Error(fmt::format(
      "write_pth: tensor '{}' has dtype {}, which has no torch storage type",
      name,
      c10::toString(dtype)));
}

// torch.save(OrderedDict(sd)): OrderedDict() (memo 0), then per tensor
// _rebuild_tensor_v2 (memo 1) of ('storage', torch.<T>Storage, '<i>', 'cpu',
// numel), offset 0, its size and stride, False, OrderedDict().
std::string state_dict_pickle(
    const StateDict& sd, const std::vector<at::Tensor>& data) {
  PickleOut p;
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
    p.global(storage_type(sd[i].first, t.scalar_type()).name);
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

constexpr uint64_t kMax32 = 0xFFFFFFFF;

// A zip of stored records whose data start at multiples of 64 bytes (torch's
// PyTorchStreamWriter pads the local header's extra field, id "FB"). Zip64
// fields where an offset or size needs them (or always, `force_zip64`).
class ZipOut {
 public:
  explicit ZipOut(bool force_zip64) : force_zip64_(force_zip64) {}

  void add(const std::string& name, std::string_view data);
  // The central directory and end records; the pieces of the whole file.
  std::vector<std::string_view> finish();

 private:
  bool force_zip64_;
  uint64_t offset_ = 0;
  uint64_t count_ = 0;
  std::deque<std::string> owned_;  // a deque: growing it moves no string
  std::vector<std::string_view> pieces_;
  std::string central_;

  // version, flags, method, time, date, CRC-32, both sizes, name length.
  static void header_fields(
      std::string& h, uint32_t crc, uint64_t size, bool big, size_t name_len) {
    put_le(h, big ? 45 : 20, 2);
    put_le(h, 0, 6);     // flags, method (stored), time
    put_le(h, 0x21, 2);  // 1980-01-01
    put_le(h, crc, 4);
    put_le(h, big ? kMax32 : size, 4);
    put_le(h, big ? kMax32 : size, 4);
    put_le(h, name_len, 2);
  }
  void central_entry(
      const std::string& name, uint32_t crc, uint64_t size, uint64_t local);
};

void ZipOut::add(const std::string& name, std::string_view data) {
  const bool big = force_zip64_ || data.size() >= kMax32;
#if EMBER_HAVE_ZLIB
  const auto crc = static_cast<uint32_t>(
      crc32_z(0, reinterpret_cast<const Bytef*>(data.data()), data.size()));
#else
  const uint32_t crc = 0;
  throw Error(
      "write_pth: this build has no zlib for the zip's CRC-32; hint: "
      "install zlib (zlib1g-dev) and rebuild");
#endif
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

void ZipOut::central_entry(
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

std::vector<std::string_view> ZipOut::finish() {
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

// torch.save's file for `sd`: the pieces point into `data` (contiguous CPU
// copies of the tensors), `pickle` and `zip`, so it is built in place.
struct PthOut {
  std::vector<at::Tensor> data;
  std::string pickle;
  ZipOut zip;
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

[[noreturn]] void file_error(const std::string& path, const std::string& what) {
  throw Error(fmt::format("{}: {}", path, what));
}

}  // namespace

StateDict parse_pth(std::string_view file, const std::string& path) {
  return detail::parse_pth(file, path, true);
}

StateDict detail::parse_pth(
    std::string_view file, const std::string& path, bool check_crc) {
  if (file.size() >= 2 && static_cast<unsigned char>(file[0]) == 0x80 &&
      file[1] == 0x02) {
    file_error(
        path,
        "a legacy torch.save file (before torch 1.6), not a zip; "
        "hint: torch.save it again with torch >= 1.6");
  }
  std::map<std::string, ArchiveRecord> records;
  try {
    records = list_zip_records(file);
  } catch (const Error& e) {
    file_error(
        path,
        fmt::format("{} (not a torch.save zip file, or cut short)", e.what()));
  }
  std::string pickle;
  for (const auto& [name, record] : records) {
    const size_t slash = name.find('/');
    if (slash == std::string::npos ||
        name.compare(slash, std::string::npos, "/data.pkl") != 0) {
      continue;
    }
    if (!pickle.empty())
      file_error(path, fmt::format("two pickles, '{}' and '{}'", pickle, name));
    pickle = name;
  }
  if (pickle.empty()) {
    file_error(path, "no '<folder>/data.pkl' record (not a torch.save file)");
  }
  const std::string prefix = pickle.substr(0, pickle.size() - 8);
  if (const auto it = records.find(prefix + "byteorder"); it != records.end()) {
    const std::string_view order =
        file.substr(it->second.data_offset, it->second.stored_size);
    if (order != "little") {
      file_error(
          path,
          fmt::format(
              "byte order '{}' (only little-endian files are read)", order));
    }
  }
  const ArchiveRecord& r = records.at(pickle);
  if (r.deflated)
    file_error(
        path, fmt::format("'{}' is compressed (torch.save stores it)", pickle));
  if (r.size > kMaxPickle) {
    file_error(
        path,
        fmt::format(
            "'{}' is {} bytes (a state dict's pickle is at most {})",
            pickle,
            r.size,
            kMaxPickle));
  }
  return PthUnpickler(file, records, path, pickle, prefix, check_crc).run();
}

StateDict read_pth(const std::string& path) {
  return parse_pth(read_file(path), path);
}

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
