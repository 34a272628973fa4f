// read_pth and write_pth against PyTorch itself: files torch.save wrote
// (tests/reference/pth_reference.py, run live with EMBER_PYTHON), files
// write_pth wrote loaded by torch.load and by the book's GPTModel with
// strict=True, and the one-line refusals of bad files.
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "ember_test_paths.hpp"
#include "skip.hpp"
#include "temp_dir.hpp"
#include <catch2/catch.hpp>
#include <torch/nn/module.h>

#include <ember/checkpoint/pickle.hpp>
#include <ember/checkpoint/pth.hpp>
#include <ember/checkpoint/zip_archive.hpp>
#include <ember/nn/gpt_model.hpp>
#include <ember/util/error.hpp>
#include <ember/util/io.hpp>

namespace {

using ember::StateDict;

const std::string kScript =
    std::string(EMBER_SOURCE_DIR) + "/tests/reference/pth_reference.py";

// pth_reference.py's expected(): exact values in each dtype; w_t and
// w_slice are views of w's storage (when torch.save wrote them).
StateDict expected() {
  const auto w = torch::arange(12, torch::kFloat32).reshape({3, 4}) / 8 - 0.5;
  return {
      {"w", w},
      {"w_t", w.t()},
      {"w_slice", w.slice(0, 1).slice(1, 2)},
      {"h", torch::arange(6).to(torch::kHalf) * 0.25 - 0.5},
      {"bf", torch::arange(6).to(torch::kBFloat16) * 0.25 - 0.5},
      {"l",
       torch::tensor(
           {-(int64_t{1} << 40),
            int64_t{-1},
            int64_t{0},
            int64_t{255},
            int64_t{65536},
            int64_t{1} << 62},
           torch::kLong)},
      {"b", torch::tensor({true, false, true})},
      {"s", torch::scalar_tensor(2.5, torch::kFloat32)},
      {"p", torch::ones({2})},
      {"d5", torch::arange(32, torch::kFloat64).reshape({2, 2, 2, 2, 2})},
      {"e", torch::empty({0, 3})},
      {"i32", torch::tensor({1, -2}, torch::kInt)},
      {"u8", torch::tensor({0, 255}, torch::kByte)},
  };
}

// Same dtype, shape and bytes.
bool same(const at::Tensor& a, const at::Tensor& b) {
  const auto bits = [](const at::Tensor& t) {
    return t.reshape({-1}).contiguous().view(torch::kUInt8);
  };
  return a.scalar_type() == b.scalar_type() && a.sizes() == b.sizes() &&
         torch::equal(bits(a), bits(b));
}

void check_equal(const StateDict& got, const StateDict& want) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    INFO(want[i].first);
    CHECK(got[i].first == want[i].first);
    CHECK(same(got[i].second, want[i].second));
  }
}

// Runs `python pth_reference.py ARGS`; its status and output.
std::pair<int, std::string> reference(const std::string& args) {
  const std::string cmd =
      std::string("'") + EMBER_PYTHON + "' '" + kScript + "' " + args + " 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;)
    out.append(buf, n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

bool have_torch_python() {
  const std::string cmd =
      std::string("'") + EMBER_PYTHON + "' -c 'import torch' > /dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

// The message `f` throws as ember::Error ("" when it does not throw).
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ember::Error& e) {
    return e.what();
  }
  return "";
}

// "<path>: <rest>", on one line.
void check_message(
    const std::string& msg, const std::string& path, const std::string& rest) {
  INFO(msg);
  CHECK(msg.find('\n') == std::string::npos);
  CHECK(msg.rfind(path + ": ", 0) == 0);
  CHECK(msg.find(rest) != std::string::npos);
}

}  // namespace

TEST_CASE(
    "read_pth: torch.save's dtypes, views and offsets, bit for bit; its "
    "bad files refused in one line",
    "[pth]") {
  if (!have_torch_python())
    EMBER_SKIP_CASE("read_pth", "no torch in " EMBER_PYTHON);
  ember::test::TempDir dir("pth_read");
  const auto [rc, out] = reference("write '" + dir.path().string() + "'");
  INFO(out);
  REQUIRE(rc == 0);

  const StateDict sd = ember::read_pth(dir.file("good.pth"));
  check_equal(sd, expected());
  // torch.save kept the views: one storage, w_t transposed, w_slice offset.
  CHECK(sd[1].second.is_alias_of(sd[0].second));
  CHECK(sd[1].second.strides() == torch::IntArrayRef({1, 4}));
  CHECK(sd[2].second.is_alias_of(sd[0].second));
  CHECK(sd[2].second.storage_offset() == 6);

  const auto bad = [&](const std::string& name, const std::string& rest) {
    const std::string path = dir.file(name);
    check_message(error_of([&] { ember::read_pth(path); }), path, rest);
  };
  bad("os_system.pth",
      "'os_system/data.pkl' byte 169: global 'posix.system' is not allowed");
  bad("os_system.pth", "; hint: save model.state_dict(), not the model");
  bad("whole_module.pth",
      "'whole_module/data.pkl' byte 2: global 'gpt_book.GPTModel' is not "
      "allowed");
  bad("short_storage.pth",
      "storage record 'two/data/0' holds 10 bytes, too few for 12 "
      "elements of 4 bytes");
  bad("duplicate_key.pth", "duplicate key 'a'");
  bad("nested.pth", "key 'model_state_dict' holds a dict, not a tensor");
}

TEST_CASE(
    "write_pth: torch.load (also weights_only) returns an equal OrderedDict, "
    "zip64 too",
    "[pth]") {
  if (!have_torch_python())
    EMBER_SKIP_CASE("write_pth", "no torch in " EMBER_PYTHON);
  ember::test::TempDir dir("pth_write");
  const std::string plain = dir.file("ember.pth");
  const std::string zip64 = dir.file("ember64.pth");
  ember::write_pth(plain, expected());
  ember::write_file_atomic(zip64, ember::detail::pth_bytes(expected(), true));
  const auto [rc, out] = reference("check '" + plain + "' '" + zip64 + "'");
  INFO(out);
  CHECK(rc == 0);
  CHECK(out == "ok\n");
  // And ember reads both back.
  check_equal(ember::read_pth(plain), expected());
  check_equal(ember::read_pth(zip64), expected());
}

namespace {

// The order of Python's module.state_dict(): a module's own parameters,
// then its own buffers, then each child's, depth first.
void state_dict_order(
    const torch::nn::Module& m, const std::string& prefix, StateDict& out) {
  for (const auto& p : m.named_parameters(false))
    out.emplace_back(prefix + p.key(), p.value());
  for (const auto& b : m.named_buffers(false))
    out.emplace_back(prefix + b.key(), b.value());
  for (const auto& c : m.named_children())
    state_dict_order(*c.value(), prefix + c.key() + ".", out);
}

}  // namespace

TEST_CASE(
    "write_pth: the book's GPTModel load_state_dict(strict=True) takes a "
    "seeded ember GPTModel's weights, equal to its own seeded ones",
    "[pth]") {
  if (!have_torch_python())
    EMBER_SKIP_CASE("write_pth", "no torch in " EMBER_PYTHON);
  torch::manual_seed(123);
  ember::GPTModel model(ember::GPTModelOptions(50, 8, 16)
                            .n_layers(2)
                            .n_heads(2)
                            .qkv_bias(true)
                            .drop_rate(0.0));
  StateDict sd;
  state_dict_order(*model, "", sd);
  // named_parameters() then named_buffers() holds the same tensors in
  // another order: the book's state_dict puts each attention's mask buffer
  // before its W_query (a module's own buffers before its children).
  StateDict flat;
  for (const auto& p : model->named_parameters())
    flat.emplace_back(p.key(), p.value());
  for (const auto& b : model->named_buffers())
    flat.emplace_back(b.key(), b.value());
  REQUIRE(sd.size() == flat.size());
  CHECK(sd[2].first == "trf_blocks.0.att.mask");
  CHECK(flat[2].first == "trf_blocks.0.att.W_query.weight");

  ember::test::TempDir dir("pth_book");
  ember::write_pth(dir.file("gpt.pth"), sd);
  const auto [rc, out] = reference(
      "book '" + dir.file("gpt.pth") +
      "' '{\"vocab_size\": 50, \"context_length\": 8, \"emb_dim\": 16, "
      "\"n_layers\": 2, \"n_heads\": 2, \"drop_rate\": 0.0, \"qkv_bias\": "
      "true}'");
  INFO(out);
  CHECK(rc == 0);
  CHECK(out == "ok\n");
}

TEST_CASE(
    "read_pth: write_pth round trip; truncated, non-zip and damaged files "
    "refused in one line",
    "[pth]") {
  ember::test::TempDir dir("pth_bad");
  const std::string path = dir.file("x.pth");
  ember::write_pth(path, expected());
  check_equal(ember::read_pth(path), expected());
  const std::string bytes = ember::read_file(path);

  const auto bad = [&](const std::string& content, const std::string& rest) {
    ember::write_file_atomic(path, content);
    check_message(error_of([&] { ember::read_pth(path); }), path, rest);
  };
  bad(bytes.substr(0, bytes.size() / 2),
      "archive: no end of central directory record (not a torch.save zip "
      "file, or cut short)");
  bad("hello", "archive: too short for a zip archive");
  bad(std::string("\x80\x02\x8a\x0a", 4) + std::string(100, 'x'),
      "a legacy torch.save file (before torch 1.6), not a zip");
  // A flipped bit in w's data (record archive/data/0, at a 64-byte boundary).
  std::string flipped = bytes;
  const size_t w_at = flipped.find("archive/data/0") + 14;
  flipped[(w_at + 4 + 63) / 64 * 64 + 4] ^= 1;
  bad(flipped, "record 'archive/data/0' is damaged (CRC-32");
  CHECK_THROWS_WITH(
      ember::read_pth(dir.file("none.pth")),
      dir.file("none.pth") + ": no such file");

  // write_pth refuses what torch.load could not return as a state dict.
  CHECK_THROWS_WITH(
      ember::write_pth(path, {{"a", torch::ones(1)}, {"a", torch::ones(1)}}),
      "write_pth: duplicate key 'a'");
  CHECK_THROWS_WITH(
      ember::write_pth(path, {{"a", at::Tensor()}}),
      "write_pth: tensor 'a' is undefined, sparse or quantized (expected a "
      "dense tensor)");
}

namespace {
// A stored zip whose archive/data.pkl is `pickle`, as torch.save lays it out.
std::string pickle_zip(const std::string& pickle) {
  ember::ZipWriter zip(false);
  zip.add("archive/data.pkl", pickle);
  zip.add("archive/version", "3\n");
  std::string out;
  for (const auto piece : zip.finish()) out += piece;
  return out;
}
}  // namespace

TEST_CASE(
    "read_pth: what a pickle makes is capped in objects and in bytes",
    "[pth]") {
  // {'a': [None] * 1.1 million}: a one-byte opcode made a ~150-byte value,
  // 4.8 GB from a 32 MB pickle before the caps (issue 22).
  const std::string dict_a = std::string("\x80\x02}X\x01\0\0\0", 8) + "a](";
  const std::string nones = dict_a + std::string(1'100'000, 'N') + "es.";
  CHECK_THROWS_WITH(
      ember::parse_pth(pickle_zip(nones), "m.pth"),
      Catch::StartsWith("m.pth: 'archive/data.pkl' byte ") &&
          Catch::EndsWith(
              ": the pickle makes more than 2097152 objects (a state dict's "
              "makes about 60 per tensor)"));
  // A 1 MiB key, memoized, then set in 300 dicts: each keeps a copy.
  std::string keys = "\x80\x02X";
  ember::detail::put_le(keys, uint64_t{1} << 20, 4);
  keys += std::string(size_t{1} << 20, 'k') + std::string("q\x00", 2);
  for (int k = 0; k < 300; ++k) keys += std::string("}h\x00Ns", 5);
  keys += ".";
  CHECK_THROWS_WITH(
      ember::parse_pth(pickle_zip(keys), "m.pth"),
      Catch::EndsWith(
          ": the pickle's objects take more than 256 MiB of memory (a state "
          "dict's take about 10 KB per tensor)"));
  // Below the caps a pickle reads as before.
  const std::string small = dict_a + std::string(1000, 'N') + "es.";
  CHECK_THROWS_WITH(
      ember::parse_pth(pickle_zip(small), "m.pth"),
      Catch::Contains("key 'a' holds a list, not a tensor"));
}
