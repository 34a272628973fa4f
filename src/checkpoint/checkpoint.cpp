#include "ember/checkpoint/checkpoint.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <map>

#include <ATen/ops/empty.h>
#include <ATen/ops/scalar_tensor.h>
#include <c10/core/GradMode.h>
#include <c10/util/Exception.h>
#include <fmt/core.h>
#include <fmt/ranges.h>
#include <torch/nn/module.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <ember/checkpoint/torch_archive.hpp>
#include <ember/util/atomic_file.hpp>
#include <ember/util/error.hpp>
#include <ember/util/io.hpp>

namespace ember {
namespace {

constexpr char kMagic[9] = "EMBERCK1";
constexpr size_t kTrailer = 24;  // magic (8), payload size (8), hash (8)
constexpr int64_t kFormat = 1;

// A fast 64-bit hash (multiply-xorshift over 8-byte words): catches
// truncation and flipped bytes; not a cryptographic check.
struct Hasher {
  uint64_t h = 0x9E3779B97F4A7C15ULL;
  uint64_t tail = 0;
  size_t tail_len = 0;
  void word(uint64_t w) {
    h ^= w + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
    h *= 0xFF51AFD7ED558CCDULL;
    h ^= h >> 33;
  }
  void update(const unsigned char* p, size_t n) {
    while (n > 0 && tail_len != 0) {
      tail |= static_cast<uint64_t>(*p++) << (8 * tail_len);
      --n;
      if (++tail_len == 8) {
        word(tail);
        tail = 0;
        tail_len = 0;
      }
    }
    while (n >= 8) {
      uint64_t w = 0;
      std::memcpy(&w, p, 8);
      word(w);
      p += 8;
      n -= 8;
    }
    while (n > 0) {
      tail |= static_cast<uint64_t>(*p++) << (8 * tail_len++);
      --n;
    }
  }
  uint64_t finish() const {
    Hasher copy = *this;
    copy.word(copy.tail ^ (static_cast<uint64_t>(copy.tail_len) << 56));
    return copy.h;
  }
};

torch::Tensor int_tensor(int64_t v) {
  // Not scalar_tensor(double): sampler seeds use all 63 bits.
  auto t = at::empty({}, at::kLong);
  *t.data_ptr<int64_t>() = v;
  return t;
}

torch::Tensor bytes_tensor(const std::string& s) {
  auto t = at::empty({static_cast<int64_t>(s.size())}, at::kByte);
  if (!s.empty()) std::memcpy(t.data_ptr(), s.data(), s.size());
  return t;
}

std::string make_trailer(uint64_t size, const Hasher& hasher) {
  std::string trailer(kTrailer, '\0');
  const uint64_t hash = hasher.finish();
  std::memcpy(trailer.data(), kMagic, 8);
  std::memcpy(trailer.data() + 8, &size, 8);
  std::memcpy(trailer.data() + 16, &hash, 8);
  return trailer;
}

std::string fail_text(int err) {
  return err == ENOSPC ? "no space left on device" : std::strerror(err);
}

// A checkpoint that cannot be used as it is.
Error corrupt(const std::string& path, const std::string& why) {
  return Error(fmt::format(
      "checkpoint {}: {}; hint: the file was cut short or altered, resume "
      "from another run or start over",
      path,
      why));
}

// The trailer's magic, payload size and hash; returns the payload size.
uint64_t check_trailer(std::string_view data, const std::string& path) {
  if (data.size() < kTrailer ||
      std::memcmp(data.data() + data.size() - kTrailer, kMagic, 8) != 0) {
    throw corrupt(path, "not a complete ember checkpoint (no trailer)");
  }
  uint64_t size = 0;
  uint64_t hash = 0;
  std::memcpy(&size, data.data() + data.size() - kTrailer + 8, 8);
  std::memcpy(&hash, data.data() + data.size() - kTrailer + 16, 8);
  if (size != data.size() - kTrailer) {
    throw corrupt(
        path,
        fmt::format(
            "size mismatch (got {} bytes, expected {})",
            data.size() - kTrailer,
            size));
  }
  Hasher hasher;
  hasher.update(reinterpret_cast<const unsigned char*>(data.data()), size);
  if (hasher.finish() != hash) throw corrupt(path, "checksum mismatch");
  return size;
}

// A tensor's elements must lie inside its storage: LibTorch 1.13 takes the
// sizes, strides and offset a pickle gives without checking them.
void check_view(
    const torch::Tensor& t, const std::string& key, const std::string& path) {
  if (!t.defined()) return;
  if (t.layout() != at::kStrided || !t.has_storage()) {
    throw corrupt(path, fmt::format("'{}' is not a dense tensor", key));
  }
  if (t.numel() == 0) return;
  uint64_t last = 0;  // largest element index reached, in the storage
  bool overflow = t.storage_offset() < 0;
  if (!overflow) last = static_cast<uint64_t>(t.storage_offset());
  for (int64_t d = 0; d < t.dim() && !overflow; ++d) {
    uint64_t reach = 0;
    overflow = t.stride(d) < 0 ||
               __builtin_mul_overflow(
                   static_cast<uint64_t>(t.size(d) - 1),
                   static_cast<uint64_t>(t.stride(d)),
                   &reach) ||
               __builtin_add_overflow(last, reach, &last);
  }
  uint64_t end_bytes = 0;
  overflow = overflow || __builtin_add_overflow(last, 1, &last) ||
             __builtin_mul_overflow(
                 last, static_cast<uint64_t>(t.element_size()), &end_bytes);
  if (overflow || end_bytes > t.storage().nbytes()) {
    throw corrupt(
        path,
        fmt::format(
            "'{}' reaches past its storage ({} bytes)",
            key,
            t.storage().nbytes()));
  }
}

// Typed reads of a loaded archive, each tensor checked by check_view.
class ArchiveReader {
 public:
  ArchiveReader(std::string_view payload, const std::string& path)
      : path_(path) {
    ar_.load_from(payload.data(), payload.size());
  }
  torch::Tensor get(const std::string& key) {
    torch::Tensor t;
    ar_.read(key, t);
    check_view(t, key, path_);
    return t;
  }
  int64_t get_int(const std::string& key) {
    return get(key).item<int64_t>();
  }
  std::string get_str(const std::string& key) {
    auto t = get(key);
    if (t.scalar_type() != at::kByte || t.dim() != 1) {
      throw corrupt(path_, fmt::format("'{}' is not a byte string", key));
    }
    t = t.contiguous();
    if (t.numel() == 0) return std::string();
    return std::string(
        static_cast<const char*>(t.data_ptr()), static_cast<size_t>(t.numel()));
  }
  /// The tensor under `key`, or an undefined one when there is none.
  torch::Tensor get_optional(const std::string& key) {
    torch::Tensor t;
    if (!ar_.try_read(key, t)) return {};
    check_view(t, key, path_);
    return t;
  }
  /// The tensors listed in `<prefix>_names`, as "<prefix>.<name>".
  void read_group(const std::string& prefix, NamedTensors& out) {
    const std::string names = get_str(prefix + "_names");
    // Each name ends with '\n' (save_checkpoint writes it so); a list
    // without one once looped forever on its last name.
    if (!names.empty() && names.back() != '\n') {
      throw corrupt(
          path_, fmt::format("{}_names does not end with a newline", prefix));
    }
    size_t start = 0;
    while (start < names.size()) {
      const size_t nl = names.find('\n', start);
      const std::string name = names.substr(start, nl - start);
      out.emplace_back(
          name, get((prefix == "model" ? "model." : "optim.") + name));
      start = nl + 1;
    }
  }

 private:
  torch::serialize::InputArchive ar_;
  const std::string& path_;
};

// The step, position and counters, checked for range.
void read_training_state(
    ArchiveReader& in, Checkpoint& c, const std::string& path) {
  c.step = in.get_int("step");
  c.epoch = in.get_int("epoch");
  c.position = in.get_int("position");
  c.sampler_seed = in.get_int("sampler_seed");
  c.tokens_seen = in.get_int("tokens_seen");
  c.elapsed_s = in.get("elapsed_s").item<double>();
  if (c.step < 0 || c.epoch < 0 || c.position < 0 || c.tokens_seen < 0 ||
      c.sampler_seed < -1 || !(c.elapsed_s >= 0)) {
    throw corrupt(
        path,
        fmt::format(
            "training state out of range (step {}, epoch {}, position {}, "
            "sampler_seed {}, tokens_seen {}, elapsed_s {})",
            c.step,
            c.epoch,
            c.position,
            c.sampler_seed,
            c.tokens_seen,
            c.elapsed_s));
  }
}

// A parameter name as ember wrote it before GPTModel took the book's names
// (every such checkpoint has its input embedding under "embedding."; see
// is_legacy): torch's LayerNorm as the final norm. Other names are returned
// unchanged.
std::string current_name(const std::string& name) {
  if (name.rfind("embedding.", 0) == 0) return name.substr(10);
  if (name == "final_norm.weight") return "final_norm.scale";
  if (name == "final_norm.bias") return "final_norm.shift";
  return name;
}

// The optimizer's names are "exp_avg.<param>", "exp_avg_sq.<param>", "step".
std::string current_optim_name(const std::string& name) {
  const size_t dot = name.find('.');
  if (dot == std::string::npos) return name;
  return name.substr(0, dot + 1) + current_name(name.substr(dot + 1));
}

// Everything save_checkpoint wrote, in the order it wrote it.
Checkpoint read_checkpoint(std::string_view payload, const std::string& path) {
  ArchiveReader in(payload, path);
  if (in.get_int("format") != kFormat) {
    throw corrupt(path, "unknown format version");
  }
  Checkpoint c;
  c.config_toml = in.get_str("config");
  read_training_state(in, c, path);
  c.cpu_rng = in.get("cpu_rng");
  c.cuda_rng = in.get_optional("cuda_rng");
  in.read_group("model", c.model);
  in.read_group("optim", c.optimizer);
  // Only checkpoints from before the book's names are renamed: today's
  // final_norm.weight is RMSNorm's own parameter.
  const bool legacy =
      std::any_of(c.model.begin(), c.model.end(), [](const auto& entry) {
        return entry.first.rfind("embedding.", 0) == 0;
      });
  if (!legacy) return c;
  for (auto& entry : c.model) entry.first = current_name(entry.first);
  for (auto& entry : c.optimizer) entry.first = current_optim_name(entry.first);
  return c;
}

}  // namespace

NamedTensors model_state(torch::nn::Module& m) {
  NamedTensors out;
  for (const auto& item : m.named_parameters())
    out.emplace_back(item.key(), item.value());
  for (const auto& item : m.named_buffers())
    out.emplace_back(item.key(), item.value());
  return out;
}

void load_model_state(
    torch::nn::Module& m, const NamedTensors& saved, const std::string& where) {
  std::map<std::string, torch::Tensor> by_name(saved.begin(), saved.end());
  c10::NoGradGuard no_grad;
  for (auto& [name, t] : model_state(m)) {
    auto it = by_name.find(name);
    if (it == by_name.end()) {
      throw Error(fmt::format(
          "{}: the checkpoint has no '{}'; it is from another model",
          where,
          name));
    }
    if (it->second.sizes() != t.sizes()) {
      throw Error(fmt::format(
          "{}: '{}' has shape {} in the checkpoint, expected {}",
          where,
          name,
          it->second.sizes(),
          t.sizes()));
    }
    t.copy_(it->second);
  }
}

void save_checkpoint(const std::string& path, const Checkpoint& c) {
  torch::serialize::OutputArchive ar;
  ar.write("format", int_tensor(kFormat));
  ar.write("config", bytes_tensor(c.config_toml));
  ar.write("step", int_tensor(c.step));
  ar.write("epoch", int_tensor(c.epoch));
  ar.write("position", int_tensor(c.position));
  ar.write("sampler_seed", int_tensor(c.sampler_seed));
  ar.write("tokens_seen", int_tensor(c.tokens_seen));
  ar.write("elapsed_s", at::scalar_tensor(c.elapsed_s, at::kDouble));
  ar.write("cpu_rng", c.cpu_rng.cpu());
  if (c.cuda_rng.defined()) ar.write("cuda_rng", c.cuda_rng.cpu());
  std::string names;
  for (const auto& [name, t] : c.model) {
    ar.write("model." + name, t.detach().cpu());
    names += name + "\n";
  }
  ar.write("model_names", bytes_tensor(names));
  names.clear();
  for (const auto& [name, t] : c.optimizer) {
    ar.write("optim." + name, t.detach().cpu());
    names += name + "\n";
  }
  ar.write("optim_names", bytes_tensor(names));

  AtomicFile file(path, [&path](AtomicFile::Step step, int err) {
    if (step == AtomicFile::Step::kOpen) {
      return fmt::format(
          "checkpoint {}: cannot write ({})", path, fail_text(err));
    }
    return fmt::format(
        "checkpoint {}: cannot write ({}); the previous checkpoint, if any, is "
        "unchanged",
        path,
        fail_text(err));
  });
  Hasher hasher;
  uint64_t size = 0;
  try {
    // A failed write is kept and thrown by commit(): an exception must not
    // pass through LibTorch's writer.
    ar.save_to([&](const void* data, size_t n) -> size_t {
      hasher.update(static_cast<const unsigned char*>(data), n);
      size += n;
      file.try_write(data, n);
      return n;
    });
  } catch (const c10::Error& e) {
    throw Error(
        fmt::format("checkpoint {}: cannot serialize ({})", path, e.msg()));
  }
  const std::string trailer = make_trailer(size, hasher);
  file.try_write(trailer.data(), trailer.size());
  file.commit();
}

std::string checkpoint_trailer(std::string_view payload) {
  Hasher hasher;
  hasher.update(
      reinterpret_cast<const unsigned char*>(payload.data()), payload.size());
  return make_trailer(payload.size(), hasher);
}

Checkpoint load_checkpoint(const std::string& path) {
  std::string data;
  try {
    data = read_file(path);
  } catch (const Error& e) {
    throw Error(fmt::format("checkpoint {}", e.what()));
  }
  return parse_checkpoint(data, path);
}

Checkpoint parse_checkpoint(std::string_view data, const std::string& path) {
  const uint64_t size = check_trailer(data, path);
  const std::string_view payload = data.substr(0, size);
  // LibTorch trusts the lengths in the archive (an allocation of whatever a
  // pickle claims, storages larger than their records): check them first.
  try {
    check_torch_archive(payload);
  } catch (const Error& e) {
    throw corrupt(path, e.what());
  }
  try {
    return read_checkpoint(payload, path);
  } catch (const Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw corrupt(path, fmt::format("unreadable archive ({})", e.msg()));
  } catch (const std::exception& e) {
    // LibTorch's reader also throws plain std exceptions on a damaged
    // archive (std::out_of_range from the unpickler: found by
    // fuzz/checkpoint_fuzz.cpp).
    throw corrupt(path, fmt::format("unreadable archive ({})", e.what()));
  }
}

}  // namespace ember
