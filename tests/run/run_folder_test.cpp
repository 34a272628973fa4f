// The run area: RunFolder's file names, probe and claim; the RNG state a
// checkpoint keeps (rng_state.hpp); the seeded model of a config
// (run_model.hpp).
#include <filesystem>
#include <string>

#include "temp_dir.hpp"
#include <ATen/ops/rand.h>
#include <catch2/catch.hpp>

#include <ember/run/rng_state.hpp>
#include <ember/run/run_folder.hpp>
#include <ember/run/run_model.hpp>
#include <ember/util/error.hpp>
#include <ember/util/io.hpp>

TEST_CASE("RunFolder: the run's files by name", "[run]") {
  const ember::RunFolder f("runs/x");
  CHECK(f.dir() == "runs/x");
  CHECK(f.checkpoint() == "runs/x/checkpoint.pt");
  CHECK(f.config() == "runs/x/config.toml");
  CHECK(f.metrics() == "runs/x/metrics.jsonl");
  CHECK(f.plot() == "runs/x/loss.svg");
  CHECK(f.samples() == "runs/x/samples.txt");
}

TEST_CASE("RunFolder: probe refuses a file in the way", "[run]") {
  ember::test::TempDir tmp("run_probe");
  ember::write_file_atomic(tmp.file("plain"), "x");
  const ember::RunFolder f(tmp.file("plain") + "/run");
  REQUIRE_THROWS_WITH(
      f.probe(),
      "run.dir " + tmp.file("plain") + "/run: " + tmp.file("plain") +
          " is not a folder");
  CHECK_NOTHROW(ember::RunFolder(tmp.file("new/run")).probe());
  CHECK_FALSE(std::filesystem::exists(tmp.file("new")));  // nothing created
}

TEST_CASE(
    "RunFolder: claim creates, locks, moves an earlier run aside", "[run]") {
  ember::test::TempDir tmp("run_claim");
  const ember::RunFolder f(tmp.file("run"));
  std::FILE* null = std::fopen("/dev/null", "w");
  {
    auto lock = f.claim(ember::RunLock(), true, null);
    CHECK(lock.held());
    ember::write_file_atomic(f.config(), "first");
    ember::write_file_atomic(f.checkpoint() + ".tmp.123", "partial");
    // Held: a second claim is refused, naming this process.
    CHECK_THROWS_AS(f.claim(ember::RunLock(), true, null), ember::Error);
  }
  {
    // A resumed run (fresh = false) keeps the folder, drops the temp file.
    auto lock = f.claim(ember::RunLock(), false, null);
    CHECK(ember::read_file(f.config()) == "first");
    CHECK_FALSE(std::filesystem::exists(f.checkpoint() + ".tmp.123"));
  }
  auto lock = f.claim(ember::RunLock(), true, null);
  CHECK(ember::read_file(tmp.file("run.1") + "/config.toml") == "first");
  CHECK_FALSE(std::filesystem::exists(f.config()));
  std::fclose(null);
}

TEST_CASE("rng_state: restore replays the same draws", "[run]") {
  ember::Checkpoint c;
  ember::capture_rng_state(c, c10::Device(c10::kCPU));
  const auto first = at::rand({8});
  ember::restore_rng_state(c, c10::Device(c10::kCPU));
  CHECK(at::rand({8}).equal(first));
}

TEST_CASE("seeded_gpt: the same seed, the same weights", "[run]") {
  ember::Config cfg;
  cfg.model.vocab_size = 64;
  cfg.model.context_length = 8;
  cfg.model.emb_dim = 8;
  cfg.model.n_heads = 2;
  cfg.model.n_layers = 1;
  cfg.train.seed = 7;
  const auto a = ember::seeded_gpt(cfg);
  at::rand({3});  // the generator moves on; the seed resets it
  const auto b = ember::seeded_gpt(cfg);
  const auto pa = a->parameters();
  const auto pb = b->parameters();
  REQUIRE(pa.size() == pb.size());
  for (size_t i = 0; i < pa.size(); ++i) CHECK(pa[i].equal(pb[i]));
  cfg.train.seed = 8;
  CHECK_FALSE(ember::seeded_gpt(cfg)->parameters()[0].equal(pa[0]));
}
