#include "ember/checkpoint/torch_archive.hpp"

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include <ember/checkpoint/pickle.hpp>
#include <ember/checkpoint/storage_type.hpp>
#include <ember/util/error.hpp>

namespace ember {
namespace {
// --- pickle (Python's pickletools; torch/csrc/jit/serialization/pickler.h) ---

// What the scan needs to know of a value: strings, ints and tuples (to read
// persistent ids); everything else is opaque.
struct Value {
  enum Kind { kOpaque, kStr, kInt, kTuple, kGlobal } kind = kOpaque;
  std::string str;  // kStr; kGlobal: "module.name"
  int64_t num = 0;
  std::vector<std::shared_ptr<const Value>> items;  // kTuple
  int depth = 0;                                    // tuples nested inside
};

// Deeper tuples are refused: freeing them recurses once per level.
constexpr int kMaxDepth = 1000;
using ValuePtr = std::shared_ptr<const Value>;

ValuePtr opaque() {
  static const ValuePtr v = std::make_shared<Value>();
  return v;
}

class PickleScan : detail::PickleCursor<PickleScan> {
 public:
  PickleScan(
      std::string_view zip,
      const std::map<std::string, ArchiveRecord>& records,
      const std::string& name)
      : records_(records), name_(name) {
    const ArchiveRecord& r = records.at(name);
    if (r.deflated) fail(0, "the pickle is compressed (LibTorch stores it)");
    if (r.size > kMaxPickleBytes) {
      fail(
          0,
          fmt::format(
              "the pickle is {} bytes (at most {} are read)",
              r.size,
              kMaxPickleBytes));
    }
    data_ = zip.substr(r.data_offset, r.size);
    // "<dir>/<stem>.pkl" keeps its storages in "<dir>/<stem>/<key>".
    storage_prefix_ = name.substr(0, name.size() - 4) + "/";
  }

  void run() {
    for (;;) {
      size_t at = 0;
      const auto op = next_op(at);
      if (op == '.') return;  // STOP
      step(at, op);
    }
  }

 private:
  friend class detail::PickleCursor<PickleScan>;
  const std::map<std::string, ArchiveRecord>& records_;
  std::string name_;
  std::string storage_prefix_;
  std::vector<ValuePtr> stack_;
  std::vector<size_t> marks_;
  std::map<uint64_t, ValuePtr> memo_;

  [[noreturn]] void fail(size_t at, const std::string& what) const {
    throw Error(
        fmt::format("archive record '{}': byte {}: {}", name_, at, what));
  }

  // Every value made and every reference kept is charged to the caps.
  std::shared_ptr<Value> make(Value::Kind kind, size_t str_bytes = 0) {
    charge(1, sizeof(Value) + 32 + str_bytes);  // 32: shared_ptr's block
    auto v = std::make_shared<Value>();
    v->kind = kind;
    return v;
  }
  void push(ValuePtr v) {
    charge(1, 2 * sizeof(ValuePtr));  // the stack doubles as it grows
    stack_.push_back(std::move(v));
  }
  void push_str(std::string_view s) {
    auto v = make(Value::kStr, s.size());
    v->str = std::string(s);
    push(std::move(v));
  }
  void push_int(int64_t n) {
    auto v = make(Value::kInt);
    v->num = n;
    push(std::move(v));
  }
  ValuePtr pop(size_t at) {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) {
      fail(at, "pops an empty stack");
    }
    auto v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  std::vector<ValuePtr> pop_mark(size_t at) {
    if (marks_.empty()) fail(at, "no MARK to pop to");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<ValuePtr> items(
        std::make_move_iterator(stack_.begin() + static_cast<ptrdiff_t>(m)),
        std::make_move_iterator(stack_.end()));
    stack_.resize(m);
    charge(items.size(), items.size() * sizeof(ValuePtr));
    return items;
  }
  ValuePtr tuple(size_t at, std::vector<ValuePtr> items) {
    auto v = make(Value::kTuple);
    for (const auto& item : items)
      v->depth = std::max(v->depth, item->depth + 1);
    if (v->depth > kMaxDepth) {
      fail(at, fmt::format("tuples nested deeper than {}", kMaxDepth));
    }
    v->items = std::move(items);
    return v;
  }
  const ValuePtr& top(size_t at) {
    if (stack_.empty()) fail(at, "memoizes an empty stack");
    return stack_.back();
  }
  // LibTorch's memo is a vector grown to the key: a key of 4e9 allocated
  // 64 GB (fuzz/checkpoint_fuzz.cpp). Picklers number their puts 0, 1, 2...
  void put(size_t at, uint64_t key) {
    if (key > memo_.size()) {
      fail(
          at,
          fmt::format(
              "memo key {} skips ahead (expected at most {})",
              key,
              memo_.size()));
    }
    if (key == memo_.size()) charge(1, 64);  // a new map node
    memo_[key] = top(at);
  }
  void get(size_t at, uint64_t key) {
    const auto it = memo_.find(key);
    if (it == memo_.end()) fail(at, fmt::format("memo {} was never put", key));
    push(it->second);
  }

  // BINPERSID of ('storage', torch.<T>Storage, key, location, numel).
  void persistent_id(size_t at, const Value& pid) {
    if (pid.kind != Value::kTuple || pid.items.empty() ||
        pid.items[0]->kind != Value::kStr || pid.items[0]->str != "storage") {
      return;  // LibTorch refuses other persistent ids itself
    }
    if (pid.items.size() != 5 || pid.items[1]->kind != Value::kGlobal ||
        pid.items[2]->kind != Value::kStr ||
        pid.items[4]->kind != Value::kInt) {
      fail(
          at,
          "malformed storage id (expected ('storage', type, key, "
          "location, numel))");
    }
    const StorageType* type = storage_type_named(pid.items[1]->str);
    if (type == nullptr) {
      fail(at, fmt::format("unknown storage type '{}'", pid.items[1]->str));
    }
    const int64_t numel = pid.items[4]->num;
    const std::string record = storage_prefix_ + pid.items[2]->str;
    const auto it = records_.find(record);
    if (it == records_.end()) {
      fail(at, fmt::format("storage record '{}' is missing", record));
    }
    if (numel < 0 ||
        static_cast<uint64_t>(numel) >
            it->second.size / static_cast<uint64_t>(type->item_size)) {
      fail(
          at,
          fmt::format(
              "storage '{}' claims {} elements of {} bytes, its record "
              "holds {} bytes",
              record,
              numel,
              type->item_size,
              it->second.size));
    }
  }

  // One opcode: its arguments read and checked, its effect on the stack and
  // the memo (the objects made, charged against the caps).
  void step(size_t at, unsigned char op) {
    if (step_stack(at, op) || step_value(at, op) || step_container(at, op) ||
        step_object(at, op)) {
      return;
    }
    fail(at, fmt::format("unknown pickle opcode 0x{:02x}", op));
  }

  // PROTO, FRAME, marks, stack and memo opcodes; false when `op` is not one of
  // them.
  bool step_stack(size_t at, unsigned char op) {
    switch (op) {
      case 0x80:
        take(at, 1, "PROTO");
        break;
      case 0x95: {  // FRAME: a length, then the opcodes it frames
        const uint64_t n = uint(at, 8, "FRAME");
        if (n > data_.size() - pos_) {
          fail(
              at,
              fmt::format(
                  "FRAME claims {} bytes, {} remain", n, data_.size() - pos_));
        }
        break;
      }
      case '(':
        charge(1, 16);
        marks_.push_back(stack_.size());
        break;
      case '0':
        pop(at);
        break;
      case '1':
        pop_mark(at);
        break;
      case '2':
        push(top(at));
        break;
      // memo
      case 'q':
        put(at, uint(at, 1, "BINPUT"));
        break;
      case 'r':
        put(at, uint(at, 4, "LONG_BINPUT"));
        break;
      case 0x94:
        put(at, memo_.size());
        break;  // MEMOIZE
      case 'h':
        get(at, uint(at, 1, "BINGET"));
        break;
      case 'j':
        get(at, uint(at, 4, "LONG_BINGET"));
        break;
      default:
        return false;
    }
    return true;
  }

  // Constants, numbers, strings and bytes; false when `op` is not one of them.
  bool step_value(size_t at, unsigned char op) {
    switch (op) {
      // constants and numbers
      case 'N':
      case 0x88:
      case 0x89:
        push(opaque());
        break;
      case 'K':
        push_int(static_cast<int64_t>(uint(at, 1, "BININT1")));
        break;
      case 'M':
        push_int(static_cast<int64_t>(uint(at, 2, "BININT2")));
        break;
      case 'J':
        push_int(
            static_cast<int32_t>(static_cast<uint32_t>(uint(at, 4, "BININT"))));
        break;
      case 0x8a: {  // LONG1: n little-endian two's-complement bytes
        const uint64_t n = uint(at, 1, "LONG1");
        const auto bytes = take(at, n, "LONG1");
        if (n <= 8) {
          uint64_t v = detail::read_le(bytes, 0, static_cast<int>(n));
          if (n > 0 && n < 8 && ((v >> (8 * n - 1)) & 1)) {
            v |= ~uint64_t{0} << (8 * n);
          }
          push_int(static_cast<int64_t>(v));
        } else {
          push(opaque());
        }
        break;
      }
      case 0x8b:
        take(at, uint(at, 4, "LONG4"), "LONG4");
        push(opaque());
        break;
      case 'G':
        take(at, 8, "BINFLOAT");
        push(opaque());
        break;
      case 'F':
      case 'I':
      case 'L':
        line(at, "a text number");
        push(opaque());
        break;
      // strings and bytes
      case 'X':
        push_str(take(at, uint(at, 4, "BINUNICODE"), "BINUNICODE"));
        break;
      case 0x8d:
        push_str(take(at, uint(at, 8, "BINUNICODE8"), "BINUNICODE8"));
        break;
      case 'U':
        push_str(take(at, uint(at, 1, "SHORT_BINSTRING"), "SHORT_BINSTRING"));
        break;
      case 'T':
        push_str(take(at, uint(at, 4, "BINSTRING"), "BINSTRING"));
        break;
      case 'C':
        push_str(take(at, uint(at, 1, "SHORT_BINBYTES"), "SHORT_BINBYTES"));
        break;
      case 'B':
        push_str(take(at, uint(at, 4, "BINBYTES"), "BINBYTES"));
        break;
      case 0x8e:
        push_str(take(at, uint(at, 8, "BINBYTES8"), "BINBYTES8"));
        break;
      case 'S':
      case 'V':
        push_str(line(at, "a text string"));
        break;
      default:
        return false;
    }
    return true;
  }

  // Tuples, lists, dicts, sets and their items; false when `op` is not one of
  // them.
  bool step_container(size_t at, unsigned char op) {
    switch (op) {
      // containers
      case '}':
      case ']':
      case 0x8f:
        push(opaque());
        break;
      case ')':
        push(tuple(at, {}));
        break;
      case 't':
        push(tuple(at, pop_mark(at)));
        break;
      case 0x85:
      case 0x86:
      case 0x87: {  // TUPLE1..3
        std::vector<ValuePtr> items(static_cast<size_t>(op - 0x84));
        for (size_t k = items.size(); k-- > 0;) items[k] = pop(at);
        push(tuple(at, std::move(items)));
        break;
      }
      case 'l':
      case 'd':
      case 0x91:
        pop_mark(at);
        push(opaque());
        break;
      case 'a':
        pop(at);
        break;  // APPEND
      case 's':
        pop(at);
        pop(at);
        break;  // SETITEM
      case 'e':
      case 'u':
      case 0x90:
        pop_mark(at);
        break;  // APPENDS, SETITEMS, ADDITEMS
      default:
        return false;
    }
    return true;
  }

  // Globals, calls, persistent ids and extensions; false when `op` is not one
  // of them.
  bool step_object(size_t at, unsigned char op) {
    switch (op) {
      // objects
      case 'c': {  // GLOBAL module\nname\n
        const auto module = line(at, "GLOBAL");
        const auto name = line(at, "GLOBAL");
        auto v = make(Value::kGlobal, module.size() + name.size() + 1);
        v->str = std::string(module) + "." + std::string(name);
        push(std::move(v));
        break;
      }
      case 0x93:
        pop(at);
        pop(at);
        push(opaque());
        break;  // STACK_GLOBAL
      case 'R':
      case 0x81:
        pop(at);
        pop(at);
        push(opaque());
        break;  // REDUCE, NEWOBJ
      case 0x92:
        pop(at);
        pop(at);
        pop(at);
        push(opaque());
        break;  // NEWOBJ_EX
      case 'b':
        pop(at);
        break;  // BUILD
      case 'o':
        pop_mark(at);
        push(opaque());
        break;  // OBJ
      case 'i':
        line(at, "INST");
        line(at, "INST");
        pop_mark(at);
        push(opaque());
        break;
      case 'Q': {  // BINPERSID
        const auto pid = pop(at);
        persistent_id(at, *pid);
        push(opaque());
        break;
      }
      case 'P':
        line(at, "PERSID");
        push(opaque());
        break;
      case 0x82:
        take(at, 1, "EXT1");
        push(opaque());
        break;
      case 0x83:
        take(at, 2, "EXT2");
        push(opaque());
        break;
      case 0x84:
        take(at, 4, "EXT4");
        push(opaque());
        break;
      default:
        return false;
    }
    return true;
  }
};

bool is_ident_char(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
         (ch >= '0' && ch <= '9') || ch == '_';
}

bool is_ident(std::string_view s) {
  return !s.empty() && !(s[0] >= '0' && s[0] <= '9') &&
         std::all_of(s.begin(), s.end(), is_ident_char);
}

// An attribute name in quotes: identifier characters and dots.
bool is_quoted_name(std::string_view s) {
  if (s.size() < 3 || s.front() != '"' || s.back() != '"') return false;
  return std::all_of(s.begin() + 1, s.end() - 1, [](char ch) {
    return ch == '.' || is_ident_char(ch);
  });
}

bool is_type(std::string_view s) {
  return s == "Tensor" || s == "bool" || s == "int" || s == "float" ||
         s == "str" || s == "Optional[bool]";
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// The TorchScript source of an archive of named tensors, as
// torch::serialize::OutputArchive writes it (LibTorch compiles it on load):
//   class Module(Module):
//     __parameters__ = ["a", "b.c", ]
//     __buffers__ = []
//     a : Tensor
//     __annotations__["b.c"] = Tensor
// Anything else is refused: LibTorch 1.13's compiler crashes on some
// malformed programs (found by fuzz/checkpoint_fuzz.cpp).
void check_module_source(std::string_view src, const std::string& name) {
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < src.size()) {
    const size_t nl = src.find('\n', pos);
    const std::string_view line = src.substr(
        pos, nl == std::string_view::npos ? src.size() - pos : nl - pos);
    pos = nl == std::string_view::npos ? src.size() : nl + 1;
    ++line_no;
    bool ok = line.empty() || (line_no == 1 && line == "class Module(Module):");
    if (!ok && line_no > 1 && starts_with(line, "  ")) {
      const std::string_view body = line.substr(2);
      for (std::string_view list : {"__parameters__ = [", "__buffers__ = ["}) {
        if (!starts_with(body, list) || body.back() != ']') continue;
        // "a", "b", ]  or  ]
        std::string_view items =
            body.substr(list.size(), body.size() - list.size() - 1);
        ok = true;
        while (ok && !items.empty()) {
          const size_t comma = items.find(", ");
          ok = comma != std::string_view::npos &&
               is_quoted_name(items.substr(0, comma));
          if (ok) items.remove_prefix(comma + 2);
        }
      }
      const size_t colon = body.find(" : ");
      if (!ok && colon != std::string_view::npos) {
        ok = is_ident(body.substr(0, colon)) && is_type(body.substr(colon + 3));
      }
      const size_t eq = body.find("] = ");
      if (!ok && starts_with(body, "__annotations__[") &&
          eq != std::string_view::npos) {
        ok = is_quoted_name(body.substr(16, eq - 16)) &&
             is_type(body.substr(eq + 4));
      }
    }
    if (!ok) {
      throw Error(fmt::format(
          "archive record '{}': line {} is not an attribute declaration of a "
          "saved tensor archive",
          name,
          line_no));
    }
  }
}

// 16 MiB of declarations: some 300,000 tensor names.
constexpr uint64_t kMaxSource = uint64_t{16} << 20;

}  // namespace

void check_torch_archive(std::string_view zip) {
  const auto records = list_zip_records(zip);
  for (const auto& [name, record] : records) {
    // TorchScript source: only the module declaration of a tensor archive.
    const size_t code = name.find("/code/");
    if (code == std::string::npos) continue;
    const std::string file = name.substr(code + 6);
    if (file == "__torch__.py.debug_pkl") continue;  // a pickle: scanned below
    if (file != "__torch__.py") {
      throw Error(fmt::format(
          "archive record '{}': TorchScript code other than the module of a "
          "saved tensor archive",
          name));
    }
    if (record.size > kMaxSource) {
      throw Error(fmt::format(
          "archive record '{}': {} bytes of TorchScript code (a tensor archive "
          "has at most {})",
          name,
          record.size,
          kMaxSource));
    }
    const std::string_view stored =
        zip.substr(record.data_offset, record.stored_size);
    check_module_source(
        record.deflated ? detail::inflate_record(stored, record.size, name)
                        : std::string(stored),
        name);
  }
  for (const auto& [name, record] : records) {
    // data.pkl, constants.pkl, code/*.debug_pkl: LibTorch unpickles each.
    if (name.size() > 3 && name.compare(name.size() - 3, 3, "pkl") == 0) {
      PickleScan(zip, records, name).run();
    }
  }
}

}  // namespace ember
