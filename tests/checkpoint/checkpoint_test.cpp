#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <ATen/ops/empty.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/scalar_tensor.h>
#include <catch2/catch.hpp>
#include <ember_test_paths.hpp>
#include <temp_dir.hpp>
#include <torch/serialize/output-archive.h>

#include <ember/checkpoint/checkpoint.hpp>
#include <ember/config/config.hpp>
#include <ember/nn/gpt_model.hpp>
#include <ember/util/error.hpp>
#include <ember/util/io.hpp>

namespace {

at::Tensor int_t(int64_t v) {
  auto t = at::empty({}, at::kLong);
  *t.data_ptr<int64_t>() = v;
  return t;
}

at::Tensor bytes_t(const std::string& s) {
  auto t = at::empty({static_cast<int64_t>(s.size())}, at::kByte);
  if (!s.empty()) std::memcpy(t.data_ptr(), s.data(), s.size());
  return t;
}

// The archive save_checkpoint writes, with `over` replacing or adding keys
// (an undefined tensor removes one), sealed with a valid trailer: a file
// that passes the checksum but whose content was altered on purpose.
std::string crafted(const std::map<std::string, at::Tensor>& over = {}) {
  std::map<std::string, at::Tensor> keys = {
      {"format", int_t(1)},
      {"config", bytes_t("[train]\nepochs = 1\n")},
      {"step", int_t(4)},
      {"epoch", int_t(0)},
      {"position", int_t(4)},
      {"sampler_seed", int_t(7)},
      {"tokens_seen", int_t(64)},
      {"elapsed_s", at::scalar_tensor(1.5, at::kDouble)},
      {"cpu_rng", at::ones({8}, at::kByte)},
      {"model_names", bytes_t("w\n")},
      {"model.w", at::ones({2, 3})},
      {"optim_names", bytes_t("")}};
  for (const auto& [k, v] : over) {
    if (v.defined())
      keys[k] = v;
    else
      keys.erase(k);
  }
  torch::serialize::OutputArchive ar;
  for (const auto& [k, v] : keys) ar.write(k, v);
  std::string payload;
  ar.save_to([&](const void* data, size_t n) -> size_t {
    payload.append(static_cast<const char*>(data), n);
    return n;
  });
  return payload + ember::checkpoint_trailer(payload);
}

}  // namespace

TEST_CASE(
    "parse_checkpoint: a crafted archive with a valid trailer loads",
    "[checkpoint]") {
  const auto c = ember::parse_checkpoint(crafted(), "c.pt");
  REQUIRE(c.step == 4);
  REQUIRE(c.position == 4);
  REQUIRE(c.sampler_seed == 7);
  REQUIRE(c.config_toml == "[train]\nepochs = 1\n");
  REQUIRE(c.model.size() == 1);
  REQUIRE(c.model[0].first == "w");
  REQUIRE(c.model[0].second.sizes() == at::IntArrayRef{2, 3});
  REQUIRE(c.optimizer.empty());
}

TEST_CASE(
    "parse_checkpoint: save_checkpoint's file round-trips", "[checkpoint]") {
  ember::Checkpoint c;
  c.config_toml = "x = 1\n";
  c.step = 9;
  c.epoch = 2;
  c.position = 3;
  c.sampler_seed = 123;
  c.tokens_seen = 77;
  c.elapsed_s = 0.25;
  c.model = {{"a", at::ones({4})}, {"b.c", at::ones({1, 2})}};
  c.optimizer = {{"step", int_t(9)}};
  c.cpu_rng = at::ones({16}, at::kByte);
  ember::test::TempDir dir("round_trip");
  const std::string path = dir.file("checkpoint.pt");
  ember::save_checkpoint(path, c);
  const auto back = ember::load_checkpoint(path);
  REQUIRE(back.step == 9);
  REQUIRE(back.epoch == 2);
  REQUIRE(back.tokens_seen == 77);
  REQUIRE(back.elapsed_s == 0.25);
  REQUIRE(back.model.size() == 2);
  REQUIRE(back.model[1].first == "b.c");
  REQUIRE(back.optimizer.size() == 1);
}

TEST_CASE(
    "parse_checkpoint: altered content behind a valid trailer is refused",
    "[checkpoint]") {
  const std::string hint =
      "; hint: the file was cut short or altered, resume from another run or "
      "start over";
  // Regression: a names list without its final '\n' made the reader start
  // over at offset 0 forever (find() gave npos, npos + 1 == 0).
  REQUIRE_THROWS_WITH(
      ember::parse_checkpoint(crafted({{"model_names", bytes_t("w")}}), "c.pt"),
      "checkpoint c.pt: model_names does not end with a newline" + hint);
  REQUIRE_THROWS_WITH(
      ember::parse_checkpoint(crafted({{"step", int_t(-1)}}), "c.pt"),
      "checkpoint c.pt: training state out of range (step -1, epoch 0, "
      "position 4, sampler_seed 7, tokens_seen 64, elapsed_s 1.5)" +
          hint);
  REQUIRE_THROWS_WITH(
      ember::parse_checkpoint(crafted({{"config", at::ones({3})}}), "c.pt"),
      "checkpoint c.pt: 'config' is not a byte string" + hint);
  REQUIRE_THROWS_WITH(
      ember::parse_checkpoint(crafted({{"format", int_t(2)}}), "c.pt"),
      "checkpoint c.pt: unknown format version" + hint);
  REQUIRE_THROWS_AS(
      ember::parse_checkpoint(crafted({{"model.w", at::Tensor()}}), "c.pt"),
      ember::Error);
  REQUIRE_THROWS_AS(
      ember::parse_checkpoint(crafted({{"step", at::ones({2})}}), "c.pt"),
      ember::Error);
}

TEST_CASE(
    "parse_checkpoint: truncated or flipped files are refused",
    "[checkpoint]") {
  const std::string good = crafted();
  REQUIRE_THROWS_WITH(
      ember::parse_checkpoint(good.substr(0, good.size() - 1), "c.pt"),
      Catch::StartsWith("checkpoint c.pt: not a complete ember checkpoint"));
  for (const size_t at : {size_t{0}, good.size() / 2, good.size() - 25}) {
    std::string bad = good;
    bad[at] = static_cast<char>(bad[at] ^ 0x10);
    REQUIRE_THROWS_WITH(
        ember::parse_checkpoint(bad, "c.pt"),
        Catch::StartsWith("checkpoint c.pt: checksum mismatch"));
  }
  REQUIRE_THROWS_WITH(
      ember::parse_checkpoint("", "c.pt"),
      Catch::StartsWith("checkpoint c.pt: not a complete ember checkpoint"));
}

TEST_CASE(
    "parse_checkpoint: fuzz findings are refused with ember::Error",
    "[checkpoint]") {
  // Inputs of fuzz/checkpoint_fuzz.cpp that crashed it: the first byte is
  // its mode (odd: the rest gets a valid trailer).
  const std::string dir =
      std::string(EMBER_SOURCE_DIR) + "/tests/fuzz/regressions/checkpoint/";
  const std::string raw = ember::read_file(dir + "unpickler-out-of-range");
  REQUIRE((raw.at(0) & 1) == 1);
  std::string bytes = raw.substr(1);
  bytes += ember::checkpoint_trailer(bytes);
  // LibTorch's unpickler threw std::out_of_range, which escaped as is.
  REQUIRE_THROWS_WITH(
      ember::parse_checkpoint(bytes, "c.pt"),
      Catch::StartsWith("checkpoint c.pt: ") &&
          Catch::EndsWith(
              "; hint: the file was cut short or altered, resume from "
              "another run or start over"));
  // A pickle string whose length made LibTorch allocate 4 GiB.
  const std::string oom = ember::read_file(dir + "pickle-length-4gib");
  REQUIRE((oom.at(0) & 1) == 1);
  bytes = oom.substr(1);
  bytes += ember::checkpoint_trailer(bytes);
  REQUIRE_THROWS_WITH(
      ember::parse_checkpoint(bytes, "c.pt"),
      Catch::StartsWith("checkpoint c.pt: archive record 'archive/data.pkl'") &&
          Catch::Contains(" claims ") &&
          Catch::Contains("remain in the record"));
}

namespace {
// The crafted archive with its 19-byte config's numbers in the pickle
// changed: `storage` = the storage's element count, `view` = the tensor's
// size (each BININT1 19 -> 127 when true), trailer resealed.
std::string patched(bool storage, bool view) {
  std::string sealed = crafted();
  std::string payload = sealed.substr(0, sealed.size() - 24);
  const std::string n19 = "K\x13t";        // BININT1 19, TUPLE
  const size_t first = payload.find(n19);  // ('storage', ..., 19)
  REQUIRE(first != std::string::npos);
  const size_t second = payload.find(n19, first + 1);  // size (19,)
  REQUIRE(second != std::string::npos);
  REQUIRE(payload.find(n19, second + 1) == std::string::npos);
  if (storage) payload[first + 1] = '\x7f';
  if (view) payload[second + 1] = '\x7f';
  return payload + ember::checkpoint_trailer(payload);
}
}  // namespace

TEST_CASE(
    "parse_checkpoint: storages and views larger than their bytes are refused",
    "[checkpoint]") {
  REQUIRE(crafted().size() == patched(false, false).size());
  REQUIRE(
      ember::parse_checkpoint(patched(false, false), "c.pt").config_toml ==
      "[train]\nepochs = 1\n");
  // The storage claims 127 bytes over a 19-byte record (LibTorch 1.13 gave
  // the tensor 127 bytes of a 19-byte allocation).
  CHECK_THROWS_WITH(
      ember::parse_checkpoint(patched(true, true), "c.pt"),
      Catch::Contains("claims 127 elements of 1 bytes, its record holds 19 "
                      "bytes"));
  // The tensor's size runs past its (honest) storage.
  CHECK_THROWS_WITH(
      ember::parse_checkpoint(patched(false, true), "c.pt"),
      Catch::StartsWith(
          "checkpoint c.pt: 'config' reaches past its storage (19 bytes)"));
}

TEST_CASE(
    "load_checkpoint: names from before the book's are mapped, others kept",
    "[checkpoint]") {
  // Written by ember before GPTModel took the book's names: the fuzz seed,
  // a mode byte (fuzz/checkpoint_fuzz.cpp) then the file.
  const std::string old_path =
      std::string(EMBER_SOURCE_DIR) + "/tests/fuzz/corpus/checkpoint/valid";
  const auto old =
      ember::parse_checkpoint(ember::read_file(old_path).substr(1), old_path);
  std::vector<std::string> names;
  for (const auto& [name, t] : old.model) names.push_back(name);
  CHECK(
      names == std::vector<std::string>{
                   "tok_emb.weight",
                   "pos_emb.weight",
                   "final_norm.scale",
                   "final_norm.shift",
                   "out_head.weight"});
  bool has_exp_avg = false;
  for (const auto& [name, t] : old.optimizer) {
    CHECK(name.find("embedding.") == std::string::npos);
    CHECK(name.find("final_norm.weight") == std::string::npos);
    has_exp_avg = has_exp_avg || name == "exp_avg.final_norm.scale";
  }
  CHECK(has_exp_avg);
  // ... and its weights load into today's model of its config.
  ember::GPTModel model(ember::model_options(
      ember::parse_config(old.config_toml, old_path).model));
  ember::load_model_state(*model, old.model, old_path);
  CHECK(torch::equal(
      model->named_parameters()["final_norm.shift"], old.model[3].second));
  // Today's names stay as written: RMSNorm's parameter is final_norm.weight.
  ember::test::TempDir dir("legacy_names");
  const std::string path = dir.file("checkpoint.pt");
  ember::Checkpoint c;
  c.config_toml = "[train]\nepochs = 1\n";
  c.cpu_rng = at::ones({8}, at::kByte);
  c.model = {
      {"tok_emb.weight", at::ones({2, 3})},
      {"final_norm.weight", at::ones({3})}};
  c.optimizer = {{"exp_avg.final_norm.weight", at::ones({3})}};
  ember::save_checkpoint(path, c);
  const auto back = ember::load_checkpoint(path);
  REQUIRE(back.model.size() == 2);
  CHECK(back.model[1].first == "final_norm.weight");
  CHECK(back.optimizer[0].first == "exp_avg.final_norm.weight");
}
