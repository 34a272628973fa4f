#include "ember/checkpoint/pth.hpp"

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>
#include <fmt/core.h>

#include <ember/checkpoint/pickle.hpp>
#include <ember/checkpoint/pth_storage.hpp>
#include <ember/checkpoint/storage_type.hpp>
#include <ember/checkpoint/zip_archive.hpp>
#include <ember/util/error.hpp>
#include <ember/util/mapped_file.hpp>

namespace ember {
namespace {

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

class PthUnpickler : detail::PickleCursor<PthUnpickler> {
 public:
  PthUnpickler(
      std::string_view file,
      const std::map<std::string, ArchiveRecord>& records,
      std::string path,
      std::string pickle,
      std::string prefix,
      bool check_crc,
      std::shared_ptr<const MappedFile> mapped)
      : storages_(file, records, path, prefix, check_crc, std::move(mapped)),
        path_(std::move(path)),
        pickle_(std::move(pickle)) {
    data_ = detail::checked_record(
        file, path_, pickle_, records.at(pickle_), check_crc);
  }

  StateDict run();

 private:
  friend class detail::PickleCursor<PthUnpickler>;
  detail::PthStorages storages_;
  std::string path_;
  std::string pickle_;  // "<prefix>data.pkl"
  std::deque<Value> arena_;
  std::vector<Value*> stack_;
  std::vector<size_t> marks_;
  std::map<uint64_t, Value*> memo_;

  [[noreturn]] void fail(size_t at, const std::string& what) const {
    throw Error(fmt::format("{}: '{}' byte {}: {}", path_, pickle_, at, what));
  }
  // Every value made and every reference kept is charged to the caps
  // (checkpoint/pickle.hpp): a deque slot, a stack slot (doubling), a MARK.
  Value* make(Value::Kind kind, size_t str_bytes = 0) {
    charge(1, sizeof(Value) + 16 + str_bytes);
    arena_.emplace_back();
    arena_.back().kind = kind;
    return &arena_.back();
  }
  void push(Value* v) {
    charge(1, 2 * sizeof(Value*));
    stack_.push_back(v);
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
    charge(items.size(), sizeof(Value*) * items.size());
    return items;
  }
  void put(size_t at, uint64_t key) {
    Value* v = top(at);
    if (memo_.count(key) == 0) charge(1, 64);  // a new map node
    memo_[key] = v;
  }
  void push_int(int64_t n) {
    Value* v = make(Value::kInt);
    v->num = n;
    push(v);
  }
  void push_str(std::string_view s) {
    Value* v = make(Value::kStr, s.size());
    v->str = std::string(s);
    push(v);
  }
  void push_tuple(std::vector<Value*> items) {
    Value* v = make(Value::kTuple);
    v->items = std::move(items);
    push(v);
  }

  bool scalar(size_t at, unsigned char op);
  void step(size_t at, unsigned char op);
  void global(size_t at, const std::string& name);
  void set_item(size_t at, Value* dict, Value* key, Value* value);
  void append(size_t at, std::vector<Value*> items);
  void reduce(size_t at);
  void persistent_id(size_t at);
  at::Tensor rebuild_tensor(size_t at, const std::vector<Value*>& args);
  StateDict result(size_t at, const Value& v) const;
};

void PthUnpickler::global(size_t at, const std::string& name) {
  Value* v = make(Value::kGlobal, name.size());
  v->str = name;
  const StorageType* type = storage_type_named(name);
  if (type != nullptr && !type->quantized) v->storage_type = type;
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
  push(v);
}

void PthUnpickler::set_item(size_t at, Value* dict, Value* key, Value* value) {
  if (dict->kind != Value::kDict) {
    fail(at, fmt::format("SETITEM on a {}, not a dict", kind_name(dict->kind)));
  }
  charge(2, 2 * 2 * sizeof(Value*));
  if (key->kind == Value::kStr) charge(1, 64 + key->str.size());  // set node
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
  charge(items.size(), 2 * sizeof(Value*) * items.size());
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
    push(make(Value::kDict));
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
  push(t);
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
  Value* s = make(Value::kStorage, p[2]->str.size() + 16);
  try {
    s->tensor =
        storages_.get(*p[1]->storage_type, p[2]->str, p[4]->num, s->str);
  } catch (const detail::PthValueError& e) {
    fail(at, e.what());
  }
  push(s);
}

// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
// backward_hooks[, metadata]): a view of the storage, checked to lie inside
// it (detail::storage_view).
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
  std::vector<int64_t> size;
  std::vector<int64_t> stride;
  for (size_t d = 0; d < a[2]->items.size(); ++d) {
    const Value* n = a[2]->items[d];
    const Value* s = a[3]->items[d];
    if (n->kind != Value::kInt || s->kind != Value::kInt || n->num < 0 ||
        s->num < 0) {
      fail(at, "a tensor size or stride is not an int >= 0");
    }
    size.push_back(n->num);
    stride.push_back(s->num);
  }
  try {
    return detail::storage_view(
        a[0]->tensor, a[0]->str, a[1]->num, size, stride);
  } catch (const detail::PthValueError& e) {
    fail(at, e.what());
  }
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
    case 'N': push(make(Value::kNone)); return true;
    case 0x88: case 0x89: {  // NEWTRUE, NEWFALSE
      Value* v = make(Value::kBool);
      v->num = op == 0x88;
      push(v);
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
    case 'G': take(at, 8, "BINFLOAT"); push(make(Value::kFloat)); return true;
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
    case '(': charge(1, 16); marks_.push_back(stack_.size()); break;
    case '}': push(make(Value::kDict)); break;
    case ']': push(make(Value::kList)); break;
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
    case 'q': put(at, uint(at, 1, "BINPUT")); break;
    case 'r': put(at, uint(at, 4, "LONG_BINPUT")); break;
    case 0x94: put(at, memo_.size()); break;  // MEMOIZE
    case 'h': case 'j': {  // BINGET, LONG_BINGET
      const uint64_t key = uint(at, op == 'h' ? 1 : 4, "BINGET");
      const auto it = memo_.find(key);
      if (it == memo_.end()) fail(at, fmt::format("memo {} was never put", key));
      push(it->second);
      break;
    }
    default:
      fail(at, fmt::format("pickle opcode 0x{:02x} is not allowed in a state dict", op));
  }
}
// clang-format on

[[noreturn]] void file_error(const std::string& path, const std::string& what) {
  throw Error(fmt::format("{}: {}", path, what));
}

}  // namespace

StateDict parse_pth(std::string_view file, const std::string& path) {
  return detail::parse_pth(file, path, true, nullptr);
}

StateDict detail::parse_pth(
    std::string_view file, const std::string& path, bool check_crc) {
  return parse_pth(file, path, check_crc, nullptr);
}

StateDict detail::parse_pth(
    std::string_view file,
    const std::string& path,
    bool check_crc,
    std::shared_ptr<const MappedFile> mapped) {
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
  if (r.size > kMaxPickleBytes) {
    file_error(
        path,
        fmt::format(
            "'{}' is {} bytes (a state dict's pickle is at most {})",
            pickle,
            r.size,
            kMaxPickleBytes));
  }
  return PthUnpickler(
             file, records, path, pickle, prefix, check_crc, std::move(mapped))
      .run();
}

StateDict read_pth(const std::string& path) {
  auto file = MappedFile::open(path);
  const std::string_view bytes = file->bytes();
  return detail::parse_pth(bytes, path, true, std::move(file));
}

}  // namespace ember
