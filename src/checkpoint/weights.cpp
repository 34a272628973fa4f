#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include <ATen/ops/cat.h>
#include <ATen/ops/equal.h>
#include <c10/core/GradMode.h>
#include <fmt/core.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/nn/module.h>

#include <ember/checkpoint/pth.hpp>
#include <ember/checkpoint/safetensors.hpp>
#include <ember/checkpoint/weights.hpp>
#include <ember/util/error.hpp>
#include <ember/util/io.hpp>
#include <ember/util/mapped_file.hpp>

namespace ember {
namespace {

struct Part {
  const char* hf;
  const char* book;
  bool transpose;  // Conv1D (in, out) <-> Linear (out, in)
};
constexpr Part kTopParts[] = {
    {"wte.weight", "tok_emb.weight", false},
    {"wpe.weight", "pos_emb.weight", false},
    {"ln_f.weight", "final_norm.scale", false},
    {"ln_f.bias", "final_norm.shift", false},
};
constexpr Part kBlockParts[] = {
    {"ln_1.weight", "norm1.scale", false},
    {"ln_1.bias", "norm1.shift", false},
    {"attn.c_proj.weight", "att.out_proj.weight", true},
    {"attn.c_proj.bias", "att.out_proj.bias", false},
    {"ln_2.weight", "norm2.scale", false},
    {"ln_2.bias", "norm2.shift", false},
    {"mlp.c_fc.weight", "ff.layers.0.weight", true},
    {"mlp.c_fc.bias", "ff.layers.0.bias", false},
    {"mlp.c_proj.weight", "ff.layers.2.weight", true},
    {"mlp.c_proj.bias", "ff.layers.2.bias", false},
};
constexpr const char* kQkv[] = {"W_query", "W_key", "W_value"};

// "a, b, c" of at most 8 names, then "and N more".
std::string name_list(const std::vector<std::string>& names) {
  const size_t shown = std::min<size_t>(names.size(), 8);
  std::string s = fmt::format(
      "{}",
      fmt::join(names.begin(), names.begin() + static_cast<long>(shown), ", "));
  if (names.size() > shown)
    s += fmt::format(" and {} more", names.size() - shown);
  return s;
}

std::map<std::string, at::Tensor> by_name(
    const StateDict& sd, const std::string& where) {
  std::map<std::string, at::Tensor> out;
  for (const auto& [k, t] : sd) {
    if (!out.emplace(k, t).second)
      throw Error(fmt::format("{}: key '{}' appears twice", where, k));
  }
  return out;
}

// Blocks N of the "h.N." keys: one more than the largest N.
int64_t hf_blocks(const std::map<std::string, at::Tensor>& hf) {
  int64_t n = 0;
  for (const auto& [k, t] : hf) {
    if (k.rfind("h.", 0) != 0) continue;
    const auto dot = k.find('.', 2);
    const std::string num = k.substr(2, dot == std::string::npos ? 0 : dot - 2);
    if (!num.empty() && num.size() < 6 &&
        std::all_of(num.begin(), num.end(), ::isdigit))
      n = std::max<int64_t>(n, std::stoll(num) + 1);
  }
  return n;
}

// Moves `hf[from]` (transposed when asked) to `out[to]`.
void take(
    std::map<std::string, at::Tensor>& hf,
    const std::string& from,
    const std::string& to,
    bool transpose,
    StateDict& out,
    const std::string& where) {
  auto it = hf.find(from);
  if (it == hf.end())
    throw Error(fmt::format(
        "{}: Hugging Face GPT-2 weights without '{}'", where, from));
  if (transpose && it->second.dim() != 2) {
    throw Error(fmt::format(
        "{}: '{}' has shape {}, expected a matrix",
        where,
        from,
        it->second.sizes()));
  }
  out.emplace_back(to, transpose ? it->second.t() : it->second);
  hf.erase(it);
}

// c_attn (D, 3D) weight and (3D) bias -> W_query, W_key, W_value.
void split_qkv(
    std::map<std::string, at::Tensor>& hf,
    const std::string& hp,
    const std::string& bp,
    StateDict& out,
    const std::string& where) {
  for (const char* what : {"weight", "bias"}) {
    const std::string key = hp + "attn.c_attn." + what;
    auto it = hf.find(key);
    if (it == hf.end())
      throw Error(fmt::format(
          "{}: Hugging Face GPT-2 weights without '{}'", where, key));
    const auto& t = it->second;
    if (t.dim() < 1 || t.size(-1) % 3 != 0) {
      throw Error(fmt::format(
          "{}: '{}' has shape {}, whose last dimension does not split in 3",
          where,
          key,
          t.sizes()));
    }
    const auto parts = t.chunk(3, -1);
    for (size_t i = 0; i < 3; ++i) {
      out.emplace_back(
          bp + "att." + kQkv[i] + "." + what,
          t.dim() == 2 ? parts[i].t() : parts[i]);
    }
    hf.erase(it);
  }
}

}  // namespace

StateDict read_weights(const std::string& path) {
  auto file = MappedFile::open(path);
  const std::string_view bytes = file->bytes();
  if (bytes.substr(0, 4) == std::string_view("PK\x03\x04", 4))
    return read_pth(path);
  if (bytes.size() >= 9 && bytes[8] == '{')
    return parse_safetensors(bytes, path, std::move(file));
  throw Error(fmt::format(
      "{}: neither a PyTorch state dict (.pth, a zip) nor safetensors (an "
      "8-byte length and a JSON header); {} bytes",
      path,
      bytes.size()));
}

bool is_hf_gpt2(const StateDict& sd) {
  return std::any_of(sd.begin(), sd.end(), [](const auto& kv) {
    return kv.first == "wte.weight" || kv.first == "transformer.wte.weight";
  });
}

StateDict from_hf_gpt2(const StateDict& hf_sd, const std::string& where) {
  std::map<std::string, at::Tensor> hf;
  for (const auto& [k, t] : by_name(hf_sd, where))
    hf[k.rfind("transformer.", 0) == 0 ? k.substr(12) : k] = t;
  StateDict out;
  for (const auto& p : kTopParts)
    take(hf, p.hf, p.book, p.transpose, out, where);
  const int64_t n = hf_blocks(hf);
  for (int64_t b = 0; b < n; ++b) {
    const std::string hp = fmt::format("h.{}.", b);
    const std::string bp = fmt::format("trf_blocks.{}.", b);
    split_qkv(hf, hp, bp, out, where);
    for (const auto& p : kBlockParts)
      take(hf, hp + p.hf, bp + p.book, p.transpose, out, where);
    hf.erase(hp + "attn.bias");  // causal-mask buffers
    hf.erase(hp + "attn.masked_bias");
  }
  // The book: out_head.weight = wte (GPT-2 ties them); lm_head when given.
  if (hf.count("lm_head.weight") != 0) {
    take(hf, "lm_head.weight", "out_head.weight", false, out, where);
  } else {
    out.emplace_back("out_head.weight", out.front().second);
  }
  for (const auto& [k, t] : hf) out.emplace_back(k, t);  // unexpected: reported
  return out;
}

StateDict to_hf_gpt2(const StateDict& book_sd) {
  const std::string where = "hf-safetensors export";
  auto book = by_name(book_sd, where);
  const auto need = [&](const std::string& k) -> at::Tensor {
    auto it = book.find(k);
    if (it == book.end()) {
      throw Error(fmt::format(
          "{}: the model has no '{}'{}",
          where,
          k,
          k.find("W_query.bias") != std::string::npos
              ? "; Hugging Face's GPT-2 has attention biases: train with "
                "model.qkv_bias = true"
              : ""));
    }
    return it->second;
  };
  if (!at::equal(need("out_head.weight"), need("tok_emb.weight"))) {
    throw Error(fmt::format(
        "{}: out_head.weight differs from tok_emb.weight, and Hugging Face's "
        "GPT-2 ties them; export with --format pth or safetensors, or train "
        "with model.tie_weights = true",
        where));
  }
  StateDict out;
  for (const auto& p : kTopParts) out.emplace_back(p.hf, need(p.book));
  for (int64_t b = 0;
       book.count(fmt::format("trf_blocks.{}.norm1.scale", b)) != 0;
       ++b) {
    const std::string hp = fmt::format("h.{}.", b);
    const std::string bp = fmt::format("trf_blocks.{}.att.", b);
    std::vector<at::Tensor> w, bias;
    for (const char* q : kQkv) {
      w.push_back(need(bp + q + ".weight").t());
      bias.push_back(need(bp + q + ".bias"));
    }
    out.emplace_back(hp + "attn.c_attn.weight", at::cat(w, 1));
    out.emplace_back(hp + "attn.c_attn.bias", at::cat(bias, 0));
    for (const auto& p : kBlockParts) {
      const auto t = need(fmt::format("trf_blocks.{}.{}", b, p.book));
      out.emplace_back(hp + p.hf, p.transpose ? t.t() : t);
    }
  }
  return out;
}

namespace {

void collect_state(
    torch::nn::Module& m, const std::string& prefix, StateDict& out) {
  for (const auto& p : m.named_parameters(/*recurse=*/false))
    out.emplace_back(prefix + p.key(), p.value());
  for (const auto& b : m.named_buffers(/*recurse=*/false))
    out.emplace_back(prefix + b.key(), b.value());
  for (const auto& c : m.named_children())
    collect_state(*c.value(), prefix + c.key() + ".", out);
}

}  // namespace

StateDict torch_state_dict(torch::nn::Module& m) {
  StateDict out;
  collect_state(m, "", out);
  const auto has = [&](const std::string& k) {
    return std::any_of(
        out.begin(), out.end(), [&](const auto& kv) { return kv.first == k; });
  };
  if (!has("out_head.weight") && has("tok_emb.weight")) {
    const auto tok = std::find_if(out.begin(), out.end(), [](const auto& kv) {
      return kv.first == "tok_emb.weight";
    });
    out.emplace_back("out_head.weight", tok->second);
  }
  return out;
}

namespace {

// Copies `file` into `own` (m's state by name), strictly; see load_weights.
void assign_weights(
    const std::map<std::string, at::Tensor>& own,
    const std::set<std::string>& buffers,
    std::map<std::string, at::Tensor> file,
    const std::string& where) {
  std::vector<std::string> missing;
  c10::NoGradGuard no_grad;
  for (const auto& [name, t] : own) {
    auto it = file.find(name);
    if (it == file.end()) {
      if (buffers.count(name) == 0) missing.push_back(name);
      continue;
    }
    const auto& src = it->second;
    if (src.sizes() != t.sizes()) {
      throw Error(fmt::format(
          "{}: '{}' has shape {} in the file, the model's is {}; hint: the "
          "model's [model] keys (preset, emb_dim, n_layers, context_length, "
          "vocab_size) must describe the file's model",
          where,
          name,
          src.sizes(),
          t.sizes()));
    }
    if (!at::isFloatingType(src.scalar_type())) {
      throw Error(fmt::format(
          "{}: '{}' has dtype {}, expected a floating-point one",
          where,
          name,
          c10::toString(src.scalar_type())));
    }
    t.copy_(src);
    file.erase(it);
  }
  if (!missing.empty()) {
    throw Error(fmt::format(
        "{}: missing {} of the model's parameters: {}",
        where,
        missing.size(),
        name_list(missing)));
  }
  if (!file.empty()) {
    std::vector<std::string> extra;
    for (const auto& kv : file) extra.push_back(kv.first);
    throw Error(fmt::format(
        "{}: {} keys the model does not have: {}; hint: check model.n_layers, "
        "qkv_bias and tie_weights",
        where,
        extra.size(),
        name_list(extra)));
  }
}

}  // namespace

void load_weights(
    torch::nn::Module& m, const std::string& path, const WeightFilter& filter) {
  StateDict sd = read_weights(path);
  if (is_hf_gpt2(sd)) sd = from_hf_gpt2(sd, path);
  auto file = by_name(sd, path);
  if (filter.skips) {
    for (auto it = file.begin(); it != file.end();)
      it = filter.skips(it->first) ? file.erase(it) : std::next(it);
  }
  // `file` alone holds the tensors now, and assign_weights lets each go once
  // copied: a .pth's storage then drops its pages (checkpoint/pth.hpp), so
  // the peak is about the model plus one storage, not the model twice.
  sd.clear();
  std::map<std::string, at::Tensor> own;
  std::set<std::string> buffers;
  const auto fills = [&](const std::string& name) {
    return !filter.fills || filter.fills(name);
  };
  for (const auto& p : m.named_parameters()) {
    if (fills(p.key())) own.emplace(p.key(), p.value());
  }
  for (const auto& b : m.named_buffers()) {
    if (!fills(b.key())) continue;
    own.emplace(b.key(), b.value());
    buffers.insert(b.key());
  }
  // Tied weights: the file's out_head must be its tok_emb.
  auto head = file.find("out_head.weight");
  auto tok = file.find("tok_emb.weight");
  if (own.count("out_head.weight") == 0 && head != file.end() &&
      tok != file.end()) {
    if (!head->second.sizes().equals(tok->second.sizes()) ||
        !at::equal(head->second.to(at::kFloat), tok->second.to(at::kFloat))) {
      throw Error(fmt::format(
          "{}: out_head.weight differs from tok_emb.weight, but the model "
          "ties them; hint: set model.tie_weights = false",
          path));
    }
    file.erase(head);
  }
  assign_weights(own, buffers, std::move(file), path);
}

void export_weights(
    torch::nn::Module& m, const std::string& path, const std::string& format) {
  write_weights(torch_state_dict(m), path, format);
}

void write_weights(
    const StateDict& sd, const std::string& path, const std::string& format) {
  if (format == "pth") {
    write_pth(path, sd);
  } else if (format == "safetensors") {
    write_file_atomic(path, safetensors_bytes(sd, {{"format", "pt"}}));
  } else if (format == "hf-safetensors") {
    write_file_atomic(
        path, safetensors_bytes(to_hf_gpt2(sd), {{"format", "pt"}}));
  } else {
    throw Error(fmt::format(
        "--format: unknown weight format '{}' (expected pth, safetensors or "
        "hf-safetensors)",
        format));
  }
}

}  // namespace ember
