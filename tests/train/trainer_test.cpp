// The trainer's phases through train() on a tiny model (configs/debug.toml,
// two blocks of width 16, on the-verdict): a fresh run's steps, evaluations
// and files; a run stopped after its second step and resumed, which must
// give the uninterrupted run's losses and weights bit for bit (checkpoint,
// RNG state, loader position). The shell tests (tests/cli/train_*.sh)
// check the driver around it and the parity with PyTorch.
#include <cstdio>
#include <string>
#include <vector>

#include "temp_dir.hpp"
#include <catch2/catch.hpp>
#include <ember_test_paths.hpp>

#include <ember/checkpoint/checkpoint.hpp>
#include <ember/config/config.hpp>
#include <ember/run/run_folder.hpp>
#include <ember/train/metrics.hpp>
#include <ember/train/trainer.hpp>
#include <ember/util/io.hpp>

namespace {

// configs/debug.toml with evaluations every 2 steps, run in `dir`.
ember::Config tiny(const std::string& dir, int64_t max_steps) {
  return ember::load_config(
      std::string(EMBER_SOURCE_DIR) + "/configs/debug.toml",
      {"run.dir=" + dir,
       "train.max_steps=" + std::to_string(max_steps),
       "train.eval_freq=2",
       "run.checkpoint_every=0"});
}

ember::TrainOptions quiet() {
  ember::TrainOptions o;
  static std::FILE* null = std::fopen("/dev/null", "w");
  o.log = null;
  return o;
}

}  // namespace

TEST_CASE(
    "Trainer: steps, evaluations and the run folder's files", "[trainer]") {
  ember::test::TempDir tmp("trainer");
  const auto dir = tmp.file("run");
  const auto result = ember::train(tiny(dir, 5), quiet());
  CHECK_FALSE(result.interrupted);
  CHECK(result.step == 5);
  // The book's evaluate_model after steps 1, 3, 5 (global_step % eval_freq
  // == 0, counted from 0).
  REQUIRE(result.evals.size() == 3);
  CHECK(result.evals[0].step == 1);
  CHECK(result.evals[2].step == 5);
  for (const auto& e : result.evals) {
    CHECK(std::isfinite(e.train_loss));
    CHECK(std::isfinite(e.val_loss));
  }
  // Random weights over the GPT-2 vocabulary start near ln(50257) = 10.8.
  CHECK(result.evals[0].train_loss > 10.0);
  CHECK(result.evals[2].train_loss < result.evals[0].train_loss);
  const ember::RunFolder folder(dir);
  const auto ckpt = ember::load_checkpoint(folder.checkpoint());
  CHECK(ckpt.step == 5);
  CHECK(ckpt.tokens_seen == 5 * 4 * 16);  // steps x batch x max_length
  CHECK(ckpt.cpu_rng.defined());
  CHECK(ember::parse_metrics(ember::read_file(folder.metrics())).size() == 3);
  CHECK(ember::read_file(folder.config()) == ckpt.config_toml);
  CHECK(ember::read_file(folder.plot()).rfind("<svg", 0) == 0);
}

TEST_CASE(
    "Trainer: a stopped and resumed run equals the uninterrupted one",
    "[trainer]") {
  ember::test::TempDir tmp("trainer_resume");
  const auto whole = ember::train(tiny(tmp.file("whole"), 6), quiet());

  const auto part = ember::train(tiny(tmp.file("part"), 3), quiet());
  REQUIRE(part.step == 3);
  auto options = quiet();
  options.resume = true;
  const auto resumed = ember::train(tiny(tmp.file("part"), 6), options);
  REQUIRE(resumed.step == 6);

  // The evaluations (steps 1, 3, 5), earlier sessions' included.
  REQUIRE(resumed.evals.size() == whole.evals.size());
  for (size_t i = 0; i < whole.evals.size(); ++i) {
    INFO("evaluation " << i);
    CHECK(resumed.evals[i].step == whole.evals[i].step);
    CHECK(resumed.evals[i].train_loss == whole.evals[i].train_loss);
    CHECK(resumed.evals[i].val_loss == whole.evals[i].val_loss);
  }
  const auto a =
      ember::load_checkpoint(ember::RunFolder(tmp.file("whole")).checkpoint());
  const auto b =
      ember::load_checkpoint(ember::RunFolder(tmp.file("part")).checkpoint());
  REQUIRE(a.model.size() == b.model.size());
  for (size_t i = 0; i < a.model.size(); ++i) {
    INFO(a.model[i].first);
    CHECK(a.model[i].first == b.model[i].first);
    CHECK(a.model[i].second.equal(b.model[i].second));
  }
  CHECK(a.position == b.position);
  CHECK(a.cpu_rng.equal(b.cpu_rng));
}

TEST_CASE("Trainer: a fresh run moves an earlier one aside", "[trainer]") {
  ember::test::TempDir tmp("trainer_aside");
  const auto dir = tmp.file("run");
  ember::train(tiny(dir, 1), quiet());
  ember::train(tiny(dir, 2), quiet());
  const auto earlier =
      ember::load_checkpoint(ember::RunFolder(dir + ".1").checkpoint());
  CHECK(earlier.step == 1);
  CHECK(ember::load_checkpoint(ember::RunFolder(dir).checkpoint()).step == 2);
}
