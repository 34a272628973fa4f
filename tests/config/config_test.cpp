// Config: defaults, precedence (--set > file > defaults), and the exact
// one-line message of every validation error.
#include <catch2/catch.hpp>
#include <ember_test_paths.hpp>

#include <ember/config/config.hpp>
#include <ember/util/error.hpp>

using ember::Config;
using ember::ConfigError;
using ember::parse_config;

TEST_CASE("Config: defaults are the book's chapter-5 settings", "[config]") {
  const Config c = parse_config("", "empty.toml");
  CHECK(c.data.batch_size == 2);
  CHECK(c.data.max_length == 256);
  CHECK(c.data.stride == 256);
  CHECK(c.data.train_ratio == 0.9);
  CHECK(c.model.context_length == 256);
  CHECK(c.model.emb_dim == 256);
  CHECK(c.model.drop_rate == 0.1);
  CHECK(c.train.optimizer.lr == 4e-4);
  CHECK(c.train.optimizer.weight_decay == 0.1);
  CHECK(c.train.schedule.epochs == 10);
  CHECK(c.train.eval.eval_freq == 5);
  CHECK(c.train.eval.eval_iter == 5);
  CHECK(c.train.seed == 123);
}

TEST_CASE(
    "Config: configs/verdict.toml equals the defaults but the data path",
    "[config]") {
  Config c = ember::load_config(EMBER_SOURCE_DIR "/configs/verdict.toml");
  Config d;
  d.data.path = c.data.path;
  CHECK(ember::differing_keys(c, d).empty());
}

TEST_CASE(
    "Config: --set beats the file, which beats the defaults", "[config]") {
  const Config c = parse_config(
      "[train]\nepochs = 3\nlr = 1\n[data]\nshuffle = false\n",
      "f.toml",
      {"train.epochs=7",
       "model.pos_encoding=sinusoidal",
       "train.device=\"cpu\""});
  CHECK(c.train.schedule.epochs == 7);
  CHECK(c.train.optimizer.lr == 1.0);  // an integer is accepted for a float key
  CHECK_FALSE(c.data.shuffle);
  CHECK(c.model.pos_encoding == "sinusoidal");
  CHECK(c.train.runtime.device == "cpu");
  CHECK(c.train.eval.eval_iter == 5);
}

TEST_CASE("Config: to_toml round-trips every key", "[config]") {
  Config c;
  c.train.optimizer.lr =
      0.1 + 0.2;  // not exactly representable in short decimal
  c.data.path = "a \"quoted\" path\\x";
  c.train.seed = 9007199254740993;  // > 2^53
  const Config back = parse_config(ember::to_toml(c), "round.toml");
  CHECK(ember::differing_keys(c, back).empty());
  CHECK(back.train.optimizer.lr == c.train.optimizer.lr);
  CHECK(ember::config_keys().size() == 66);
}

TEST_CASE(
    "Config: data.format = instruction takes the book's train_ratio 0.85",
    "[config]") {
  const Config text = parse_config("", "c.toml");
  CHECK(text.data.format == "text");
  CHECK(text.data.train_ratio == 0.9);
  const Config inst =
      parse_config("[data]\nformat = \"instruction\"\n", "c.toml");
  CHECK(inst.data.train_ratio == 0.85);
  CHECK(inst.data.test_ratio == 0.1);
  CHECK_FALSE(inst.data.mask_prompt);
  // A ratio the file or --set gives is kept, and survives to_toml.
  const Config given = parse_config(
      "[data]\nformat = \"instruction\"\ntrain_ratio = 0.5\n", "c.toml");
  CHECK(given.data.train_ratio == 0.5);
  CHECK(
      parse_config(ember::to_toml(given), "again.toml").data.train_ratio ==
      0.5);
  const Config set = parse_config(
      "[data]\nformat = \"instruction\"\n", "c.toml", {"data.train_ratio=0.7"});
  CHECK(set.data.train_ratio == 0.7);
}

TEST_CASE("Config: a preset sets only the keys not given", "[config]") {
  const Config xl = parse_config("[model]\npreset = \"gpt2-xl\"\n", "c.toml");
  CHECK(xl.model.emb_dim == 1600);
  CHECK(xl.model.n_layers == 48);
  CHECK(xl.model.n_heads == 25);
  CHECK(xl.model.context_length == 1024);
  CHECK(xl.model.vocab_size == 50257);
  // The file's keys and --set win over the preset, wherever they appear.
  const Config small = parse_config(
      "[model]\ncontext_length = 256\npreset = \"gpt2-small\"\n",
      "c.toml",
      {"model.n_layers=2"});
  CHECK(small.model.context_length == 256);
  CHECK(small.model.n_layers == 2);
  CHECK(small.model.emb_dim == 768);
  CHECK(small.model.n_heads == 12);
  const Config medium =
      parse_config("", "c.toml", {"model.preset=gpt2-medium"});
  CHECK(medium.model.emb_dim == 1024);
  CHECK(medium.model.n_layers == 24);
  CHECK(medium.model.n_heads == 16);
  const Config large =
      parse_config("[model]\npreset = \"gpt2-large\"\n", "c.toml");
  CHECK(large.model.emb_dim == 1280);
  CHECK(large.model.n_layers == 36);
  CHECK(large.model.n_heads == 20);
  // Written back, every key is explicit: the same config.
  const Config back = parse_config(ember::to_toml(small), "back.toml");
  CHECK(ember::differing_keys(small, back).empty());
}

TEST_CASE("Config: train.backend and train.dist_timeout_s", "[config]") {
  CHECK(parse_config("", "c.toml").train.runtime.backend == "auto");
  CHECK(parse_config("", "c.toml").train.runtime.dist_timeout_s == 120);
  CHECK(parse_config("", "c.toml").train.runtime.dist_sparse_embedding);
  CHECK_FALSE(parse_config("[train]\ndist_sparse_embedding = false\n", "c.toml")
                  .train.runtime.dist_sparse_embedding);
  CHECK(
      parse_config("[train]\nbackend = \"gloo\"\n", "c.toml")
          .train.runtime.backend == "gloo");
  CHECK_THROWS_MATCHES(
      parse_config("[train]\nbackend = \"mpi\"\n", "c.toml"),
      ConfigError,
      Catch::Matchers::Message(
          "c.toml: train.backend is not a backend (got 'mpi', expected auto, "
          "gloo or nccl)"));
  CHECK_THROWS_AS(
      parse_config("[train]\ndist_timeout_s = 0\n", "c.toml"), ConfigError);
}

TEST_CASE("Config: train.precision", "[config]") {
  CHECK(parse_config("", "c.toml").train.runtime.precision == "fp32");
  CHECK(
      parse_config("[train]\nprecision = \"bf16\"\n", "c.toml")
          .train.runtime.precision == "bf16");
  CHECK_THROWS_MATCHES(
      parse_config("[train]\nprecision = \"fp16\"\n", "c.toml"),
      ConfigError,
      Catch::Matchers::Message(
          "c.toml: train.precision is not a precision (got 'fp16', expected "
          "fp32 or bf16)"));
}

TEST_CASE("Config: the appendix-D schedule and accumulation keys", "[config]") {
  using Catch::Matchers::Message;
  const Config d = parse_config("", "c.toml");
  // The defaults are train_model_simple: constant rate, no clipping, one
  // batch per step.
  CHECK(d.train.schedule.lr_schedule == "constant");
  CHECK(d.train.schedule.warmup_steps == 0);
  CHECK(d.train.schedule.warmup_ratio == 0.0);
  CHECK(d.train.schedule.initial_lr == 3e-5);
  CHECK(d.train.schedule.min_lr == 1e-6);
  CHECK(d.train.optimizer.grad_clip == 0.0);
  CHECK(d.train.optimizer.grad_clip_after_warmup);
  CHECK(d.train.optimizer.grad_accum_steps == 1);
  const Config c = parse_config(
      "[train]\nlr_schedule = \"cosine\"\nwarmup_ratio = 0.2\n"
      "grad_clip = 1\ngrad_accum_steps = 4\n",
      "c.toml");
  CHECK(c.train.schedule.lr_schedule == "cosine");
  CHECK(c.train.schedule.warmup_ratio == 0.2);
  CHECK(c.train.optimizer.grad_clip == 1.0);
  CHECK(c.train.optimizer.grad_accum_steps == 4);
  CHECK_THROWS_MATCHES(
      parse_config("[train]\nlr_schedule = \"linear\"\n", "c.toml"),
      ConfigError,
      Message("c.toml: train.lr_schedule is not a schedule (got 'linear', "
              "expected constant or cosine)"));
  CHECK_THROWS_MATCHES(
      parse_config(
          "", "c.toml", {"train.warmup_steps=5", "train.warmup_ratio=0.1"}),
      ConfigError,
      Message("c.toml: train.warmup_steps and train.warmup_ratio are both set "
              "(got 5 and 0.1); hint: give the warmup as a number of steps or "
              "as a share of the run, not both"));
  CHECK_THROWS_MATCHES(
      parse_config("", "c.toml", {"train.grad_accum_steps=0"}),
      ConfigError,
      Message("--set train.grad_accum_steps=0: train.grad_accum_steps out of "
              "range (got 0, expected 1 to 65536)"));
  CHECK_THROWS_MATCHES(
      parse_config("[train]\nwarmup_ratio = 1.0\n", "c.toml"),
      ConfigError,
      Message("c.toml:2:1: train.warmup_ratio out of range (got 1.0, "
              "expected 0 <= warmup_ratio < 1)"));
  CHECK_THROWS_AS(
      parse_config("", "c.toml", {"train.grad_clip=-1"}), ConfigError);
  CHECK_THROWS_AS(
      parse_config("", "c.toml", {"train.min_lr=inf"}), ConfigError);
  CHECK_THROWS_AS(
      parse_config("", "c.toml", {"train.warmup_steps=-1"}), ConfigError);
}

TEST_CASE("Config: validation errors are one exact line", "[config]") {
  using Catch::Matchers::Equals;
  CHECK_THROWS_MATCHES(
      parse_config("[data]\nbatchsize = 2\n", "c.toml"),
      ConfigError,
      Catch::Matchers::Message(
          "c.toml:2:1: unknown key 'data.batchsize'; hint: did you mean "
          "'data.batch_size'?"));
  CHECK_THROWS_MATCHES(
      parse_config("[trian]\nlr = 1\n", "c.toml"),
      ConfigError,
      Catch::Matchers::Message("c.toml:1:2: unknown section '[trian]'; hint: "
                               "did you mean '[train]'?"));
  CHECK_THROWS_MATCHES(
      parse_config("[data]\nbatch_size = \"two\"\n", "c.toml"),
      ConfigError,
      Catch::Matchers::Message(
          "c.toml:2:1: data.batch_size has the wrong type (got string, "
          "expected integer)"));
  CHECK_THROWS_MATCHES(
      parse_config("[data]\nmax_length = 2.5\n", "c.toml"),
      ConfigError,
      Catch::Matchers::Message(
          "c.toml:2:1: data.max_length has the wrong type (got float, "
          "expected integer)"));
  CHECK_THROWS_MATCHES(
      parse_config("[data]\nbatch_size = 0\n", "c.toml"),
      ConfigError,
      Catch::Matchers::Message(
          "c.toml:2:1: data.batch_size out of range (got 0, expected 1 to "
          "65536)"));
  CHECK_THROWS_MATCHES(
      parse_config("[train]\nepochs = -3\n", "c.toml"),
      ConfigError,
      Catch::Matchers::Message(
          "c.toml:2:1: train.epochs out of range (got -3, expected 1 to "
          "1048576)"));
  CHECK_THROWS_MATCHES(
      parse_config("[data]\nmax_length = 512\n", "c.toml"),
      ConfigError,
      Catch::Matchers::Message(
          "c.toml: data.max_length exceeds model.context_length (got 512, "
          "expected <= 256)"));
  CHECK_THROWS_MATCHES(
      parse_config("[model]\nn_layers = 2000\n", "c.toml"),
      ConfigError,
      Catch::Matchers::Message(
          "c.toml:2:1: model.n_layers out of range (got 2000, expected 0 to "
          "1024)"));
  CHECK_THROWS_MATCHES(
      parse_config("[model]\nn_layers = 2\nn_heads = 5\n", "c.toml"),
      ConfigError,
      Catch::Matchers::Message(
          "c.toml: model.emb_dim must be divisible by model.n_heads (got "
          "emb_dim 256, n_heads 5); hint: each head gets emb_dim / n_heads "
          "dimensions"));
  CHECK_THROWS_MATCHES(
      parse_config("[model]\npreset = \"gpt2\"\n", "c.toml"),
      ConfigError,
      Catch::Matchers::Message(
          "c.toml: model.preset is not a preset (got 'gpt2', expected one of: "
          "gpt2-small, gpt2-medium, gpt2-large, gpt2-xl, or \"\" for none)"));
  CHECK_THROWS_MATCHES(
      parse_config("[model]\nnorm = \"\"\n", "c.toml"),
      ConfigError,
      Catch::Matchers::Message("c.toml: model.norm is empty"));
  CHECK_THROWS_MATCHES(
      parse_config("[train]\ndevice = \"gpu\"\n", "c.toml"),
      ConfigError,
      Catch::Matchers::Message(
          "c.toml: train.device is not a device (got 'gpu', expected auto, "
          "cpu, cuda or cuda:N)"));
  CHECK_THROWS_MATCHES(
      parse_config("", "c.toml", {"data.batch_size=abc"}),
      ConfigError,
      Catch::Matchers::Message(
          "--set data.batch_size=abc: data.batch_size has the wrong type "
          "(got 'abc', expected integer)"));
  CHECK_THROWS_MATCHES(
      parse_config("", "c.toml", {"train.eval_iter=99999999999999999999"}),
      ConfigError,
      Catch::Matchers::Message(
          "--set train.eval_iter=99999999999999999999: train.eval_iter out of "
          "range (got 99999999999999999999, expected 1 to 1048576)"));
  CHECK_THROWS_MATCHES(
      parse_config("", "c.toml", {"model.embdim=3"}),
      ConfigError,
      Catch::Matchers::Message(
          "--set model.embdim=3: unknown key 'model.embdim'; hint: did you "
          "mean 'model.emb_dim'?"));
  CHECK_THROWS_MATCHES(
      parse_config("", "c.toml", {"train.epochs"}),
      ConfigError,
      Catch::Matchers::Message(
          "--set train.epochs: expected section.key=value (e.g. "
          "train.epochs=2)"));
  // Not UTF-8: refused (to_toml would write a config.toml --resume refuses);
  // the message shows what precedes the bad byte, cut before the 'é'.
  CHECK_THROWS_MATCHES(
      parse_config("", "c.toml", {"run.dir=x y&\xff"}),
      ConfigError,
      Catch::Matchers::Message(
          "--set run.dir=x y&...: invalid UTF-8 at byte 12 of the item; "
          "config values are UTF-8 text"));
  CHECK_THROWS_MATCHES(
      parse_config(
          "", "c.toml", {"run.dir=" + std::string(31, 'a') + "\xc3\xa9\xc3"}),
      ConfigError,
      Catch::Matchers::Message(
          "--set run.dir=" + std::string(31, 'a') +
          "...: invalid UTF-8 at byte 41 of the item; config values are "
          "UTF-8 text"));
}

TEST_CASE(
    "Config: TOML syntax errors and duplicate keys name line and column",
    "[config]") {
  try {
    parse_config("[data]\nbatch_size = = 2\n", "s.toml");
    FAIL("no throw");
  } catch (const ConfigError& e) {
    CHECK_THAT(e.what(), Catch::Matchers::StartsWith("s.toml:2:"));
    CHECK_THAT(e.what(), Catch::Matchers::Contains("toml syntax error"));
  }
  try {
    parse_config("[data]\nstride = 2\nstride = 3\n", "d.toml");
    FAIL("no throw");
  } catch (const ConfigError& e) {
    CHECK_THAT(e.what(), Catch::Matchers::StartsWith("d.toml:3:"));
    CHECK_THAT(e.what(), Catch::Matchers::Contains("stride"));
  }
}

TEST_CASE("Config: data.path is resolved or refused", "[config]") {
  CHECK_THROWS_MATCHES(
      ember::resolve_data_path("nope.txt", "/nonexistent-dir"),
      ConfigError,
      Catch::Matchers::Message(
          "data.path: no such file 'nope.txt' (looked in the current "
          "directory and in /nonexistent-dir); hint: run scripts/setup.sh to "
          "fetch the-verdict.txt"));
  CHECK_THROWS_MATCHES(
      ember::resolve_data_path(EMBER_SOURCE_DIR "/configs"),
      ConfigError,
      Catch::Matchers::Message(
          "data.path: '" EMBER_SOURCE_DIR
          "/configs' is a directory, expected a text or token file"));
  CHECK(
      ember::resolve_data_path("verdict.toml", EMBER_SOURCE_DIR "/configs") ==
      EMBER_SOURCE_DIR "/configs/verdict.toml");
}
