#include <algorithm>
#include <cstring>
#include <limits>
#include <set>
#include <utility>
#include <vector>

#include <ATen/ops/from_blob.h>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <ember/checkpoint/safetensors.hpp>
#include <ember/checkpoint/storage_type.hpp>
#include <ember/util/error.hpp>
#include <ember/util/mapped_file.hpp>

namespace ember {
namespace {

using nlohmann::json;

constexpr uint64_t kMaxHeader = uint64_t{100} << 20;  // as safetensors' own

// nlohmann's dump() recurses once per level of nesting, and a header of
// 100,000 '[' overflowed the stack in an error message; a real header nests
// 3 deep (object, entry, shape).
constexpr int kMaxDepth = 64;

// `v` as JSON for a message, at most 80 characters.
std::string brief(const json& v) {
  std::string s = v.dump();
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

// Refuses nesting deeper than kMaxDepth before the parser sees the text.
void check_depth(std::string_view text, const std::string& where) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // an escaped character, perhaps '"'
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxDepth) {
        throw Error(fmt::format(
            "{}: the JSON header (bytes 8-{}) nests deeper than {} levels at "
            "byte {}",
            where,
            8 + text.size(),
            kMaxDepth,
            8 + i));
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
}

// One tensor's entry, checked.
struct Entry {
  std::string name;
  at::ScalarType type = at::kFloat;
  std::vector<int64_t> shape;
  uint64_t begin = 0;
  uint64_t end = 0;
};

// The header's JSON and where the data starts.
struct Header {
  json doc;
  uint64_t data_start = 0;
};

Header parse_header(std::string_view bytes, const std::string& where) {
  if (bytes.size() < 8) {
    throw Error(fmt::format(
        "{}: not a safetensors file: {} bytes, shorter than the 8-byte "
        "header length",
        where,
        bytes.size()));
  }
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i)
    n = (n << 8) | static_cast<unsigned char>(bytes[static_cast<size_t>(i)]);
  if (n > kMaxHeader || n > bytes.size() - 8) {
    throw Error(fmt::format(
        "{}: not a safetensors file: the header length (bytes 0-7) says {} "
        "bytes, but {} follow{}",
        where,
        n,
        bytes.size() - 8,
        n > kMaxHeader ? " (and the format allows at most 100 MB)" : ""));
  }
  const std::string_view text = bytes.substr(8, n);
  check_depth(text, where);
  // Duplicate top-level keys: nlohmann keeps the last one silently.
  std::set<std::string> keys;
  std::string duplicate;
  const json::parser_callback_t note_keys =
      [&](int depth, json::parse_event_t event, json& parsed) {
        if (depth == 1 && event == json::parse_event_t::key &&
            !keys.insert(parsed.get<std::string>()).second && duplicate.empty())
          duplicate = parsed.get<std::string>();
        return true;
      };
  Header h;
  try {
    h.doc = json::parse(text.begin(), text.end(), note_keys);
  } catch (const json::parse_error& e) {
    throw Error(fmt::format(
        "{}: the JSON header (bytes 8-{}) is not valid JSON at byte {}: {}",
        where,
        8 + n,
        8 + e.byte,
        e.what()));
  } catch (const json::exception& e) {
    // Valid syntax the parser still refuses, e.g. a number beyond a double
    // (out_of_range 406).
    throw Error(fmt::format(
        "{}: the JSON header (bytes 8-{}) cannot be read: {}",
        where,
        8 + n,
        e.what()));
  }
  if (!h.doc.is_object())
    throw Error(fmt::format("{}: the JSON header is not an object", where));
  if (!duplicate.empty())
    throw Error(fmt::format(
        "{}: key '{}' appears twice in the header", where, duplicate));
  h.data_start = 8 + n;
  return h;
}

at::ScalarType dtype_of(const json& v, const std::string& where) {
  if (v.is_string()) {
    const StorageType* type = safetensors_type_named(v.get<std::string>());
    if (type != nullptr) return type->dtype;
  }
  throw Error(fmt::format(
      "{}: dtype {} is not one ember reads (F64, F32, F16, BF16, I64, I32, "
      "I16, I8, U8, BOOL)",
      where,
      brief(v)));
}

// Bytes of `shape` elements of `type`, or an error when a dimension is
// negative or the count overflows.
uint64_t byte_count(
    const std::vector<int64_t>& shape,
    at::ScalarType type,
    const std::string& where) {
  uint64_t n = c10::elementSize(type);
  for (const int64_t d : shape) {
    if (d < 0 || (d > 0 && n > std::numeric_limits<uint64_t>::max() /
                                   static_cast<uint64_t>(d)))
      throw Error(
          fmt::format("{}: shape dimension {} is out of range", where, d));
    n *= static_cast<uint64_t>(d);
  }
  return n;
}

Entry parse_entry(
    const std::string& name,
    const json& v,
    uint64_t data_size,
    const std::string& file) {
  const std::string where = fmt::format("{}: tensor '{}'", file, name);
  if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") ||
      !v.contains("data_offsets")) {
    throw Error(fmt::format(
        "{}: expected an object with dtype, shape and data_offsets (got {})",
        where,
        brief(v)));
  }
  Entry e;
  e.name = name;
  e.type = dtype_of(v["dtype"], where);
  const auto& shape = v["shape"];
  const auto& offsets = v["data_offsets"];
  const auto is_count = [](const json& x) {
    return x.is_number_unsigned() ||
           (x.is_number_integer() && x.get<int64_t>() >= 0);
  };
  if (!shape.is_array() || !std::all_of(shape.begin(), shape.end(), is_count))
    throw Error(fmt::format(
        "{}: shape {} is not a list of sizes", where, brief(shape)));
  if (!offsets.is_array() || offsets.size() != 2 || !is_count(offsets[0]) ||
      !is_count(offsets[1])) {
    throw Error(fmt::format(
        "{}: data_offsets {} is not [begin, end]", where, brief(offsets)));
  }
  for (const auto& d : shape) e.shape.push_back(d.get<int64_t>());
  e.begin = offsets[0].get<uint64_t>();
  e.end = offsets[1].get<uint64_t>();
  if (e.begin > e.end || e.end > data_size) {
    throw Error(fmt::format(
        "{}: data_offsets [{}, {}] lie outside the {} bytes of data",
        where,
        e.begin,
        e.end,
        data_size));
  }
  const uint64_t want = byte_count(e.shape, e.type, where);
  if (want != e.end - e.begin) {
    throw Error(fmt::format(
        "{}: shape {} of {} needs {} bytes, data_offsets [{}, {}] hold {}",
        where,
        brief(shape),
        v["dtype"].get<std::string>(),
        want,
        e.begin,
        e.end,
        e.end - e.begin));
  }
  return e;
}

// The entries of a parsed header, in data order, checked not to overlap.
std::vector<Entry> entries(
    const Header& h, uint64_t data_size, const std::string& where) {
  std::vector<Entry> out;
  for (const auto& [name, v] : h.doc.items()) {
    if (name == "__metadata__") continue;
    out.push_back(parse_entry(name, v, data_size, where));
  }
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  for (size_t i = 1; i < out.size(); ++i) {
    if (out[i].begin < out[i - 1].end) {
      throw Error(fmt::format(
          "{}: tensors '{}' and '{}' overlap in the data (bytes {}-{} and "
          "{}-{})",
          where,
          out[i - 1].name,
          out[i].name,
          out[i - 1].begin,
          out[i - 1].end,
          out[i].begin,
          out[i].end));
    }
  }
  return out;
}

}  // namespace

StateDict parse_safetensors(
    std::string_view bytes,
    const std::string& where,
    std::shared_ptr<const void> owner) {
  const Header h = parse_header(bytes, where);
  const uint64_t data_size = bytes.size() - h.data_start;
  StateDict sd;
  for (const Entry& e : entries(h, data_size, where)) {
    // Read-only views of the bytes; the deleter holds the owner.
    void* p = const_cast<char*>(bytes.data() + h.data_start + e.begin);
    sd.emplace_back(
        e.name,
        at::from_blob(
            p, e.shape, [owner](void*) {}, at::TensorOptions().dtype(e.type)));
  }
  return sd;
}

StateDict read_safetensors(const std::string& path) {
  auto file = MappedFile::open(path);
  const std::string_view bytes = file->bytes();
  return parse_safetensors(bytes, path, std::move(file));
}

std::map<std::string, std::string> safetensors_metadata(
    std::string_view bytes) {
  const Header h = parse_header(bytes, "safetensors");
  entries(h, bytes.size() - h.data_start, "safetensors");
  std::map<std::string, std::string> out;
  if (!h.doc.contains("__metadata__")) return out;
  const auto& m = h.doc["__metadata__"];
  if (!m.is_object())
    throw Error("safetensors: __metadata__ is not an object of strings");
  for (const auto& [k, v] : m.items()) {
    if (!v.is_string())
      throw Error(
          fmt::format("safetensors: __metadata__ '{}' is not a string", k));
    out[k] = v.get<std::string>();
  }
  return out;
}

std::string safetensors_bytes(
    const StateDict& sd, const std::map<std::string, std::string>& metadata) {
  // Widest elements first (each then aligned to its size, as the data
  // starts 8-aligned), else in the given order.
  std::vector<size_t> order(sd.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return sd[a].second.element_size() > sd[b].second.element_size();
  });
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<at::Tensor> data;
  uint64_t at = 0;
  for (const size_t i : order) {
    const auto& [name, t] = sd[i];
    const StorageType* type = storage_type_of(t.scalar_type());
    const char* dtype = type != nullptr ? type->safetensors : nullptr;
    if (dtype == nullptr) {
      throw Error(fmt::format(
          "safetensors: tensor '{}' has dtype {}, which the format lacks",
          name,
          c10::toString(t.scalar_type())));
    }
    data.push_back(t.detach().to(at::kCPU).contiguous());
    const auto n = static_cast<uint64_t>(data.back().nbytes());
    header[name] = {
        {"dtype", dtype},
        {"shape", t.sizes().vec()},
        {"data_offsets", {at, at + n}}};
    at += n;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i)
    out[static_cast<size_t>(i)] =
        static_cast<char>((text.size() >> (8 * i)) & 0xff);
  out += text;
  out.reserve(out.size() + at);
  for (const auto& t : data)
    out.append(static_cast<const char*>(t.data_ptr()), t.nbytes());
  return out;
}

}  // namespace ember
