// GPTModelOptions::vocab_pad_to: the head's product over V rounded up, the
// model as seen from outside unchanged: the same parameters from the same
// seed, logits of V columns, losses and gradients within 1e-5 in fp32
// (tied or not), training steps alike, the padded columns -inf for the loss.
#include <catch2/catch.hpp>
#include <torch/utils.h>

#include <ember/nn/gpt_model.hpp>
#include <ember/nn/kv_cache.hpp>
#include <ember/train/adamw.hpp>

namespace {

constexpr int64_t kVocab = 101;  // -> 128 padded to 64

ember::GPTModel seeded(int64_t pad_to, bool tied = false) {
  torch::manual_seed(123);
  return ember::GPTModel(ember::GPTModelOptions(kVocab, 16, 32)
                             .n_layers(2)
                             .n_heads(4)
                             .drop_rate(0.0)
                             .tie_weights(tied)
                             .vocab_pad_to(pad_to));
}

ember::NamedTensors named(const ember::GPTModel& m) {
  ember::NamedTensors out;
  for (const auto& p : m->named_parameters())
    out.emplace_back(p.key(), p.value());
  return out;
}

double max_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

struct Batch {
  at::Tensor ids, targets;
};

Batch batch(int64_t seed) {
  torch::manual_seed(seed);
  auto ids = torch::randint(kVocab, {3, 16}, torch::kLong);
  auto targets = torch::randint(kVocab, {3, 16}, torch::kLong);
  targets.index_put_({0, 5}, -100);  // an ignored position, as chapter 7's
  return {ids, targets};
}

}  // namespace

TEST_CASE(
    "vocab_pad_to: the same parameters, V logits, loss and gradients "
    "within 1e-5",
    "[vocab_pad]") {
  for (const bool tied : {false, true}) {
    INFO("tie_weights " << tied);
    auto plain = seeded(1, tied);
    auto padded = seeded(64, tied);
    CHECK(plain->head_rows() == kVocab);
    CHECK(padded->head_rows() == 128);
    const auto pp = plain->named_parameters();
    const auto pq = padded->named_parameters();
    REQUIRE(pp.size() == pq.size());
    for (const auto& p : pp) {
      INFO(p.key());
      CHECK(torch::equal(p.value(), pq[p.key()]));
    }
    const auto b = batch(7);
    const auto want = plain->forward(b.ids);
    const auto got = padded->forward(b.ids);
    REQUIRE(got.sizes() == want.sizes());
    CHECK(max_diff(got, want) < 1e-5);
    // The loss's logits: 128 columns, the padding -inf.
    const auto loss_logits = padded->forward_for_loss(b.ids);
    REQUIRE(loss_logits.size(-1) == 128);
    CHECK(torch::all(torch::isneginf(loss_logits.narrow(-1, kVocab, 27)))
              .item<bool>());
    const auto want_loss =
        ember::lm_loss(plain->forward_for_loss(b.ids), b.targets);
    const auto got_loss = ember::lm_loss(loss_logits, b.targets);
    CHECK(std::abs(got_loss.item<double>() - want_loss.item<double>()) < 1e-5);
    want_loss.backward();
    got_loss.backward();
    for (const auto& p : pp) {
      INFO(p.key());
      REQUIRE(pq[p.key()].grad().sizes() == p.value().grad().sizes());
      CHECK(max_diff(pq[p.key()].grad(), p.value().grad()) < 1e-5);
    }
  }
}

TEST_CASE("vocab_pad_to: ten AdamW steps, the same losses", "[vocab_pad]") {
  auto plain = seeded(1);
  auto padded = seeded(64);
  ember::AdamWOptions options;
  options.lr = 4e-3;
  ember::AdamW opt_plain(named(plain), options);
  ember::AdamW opt_padded(named(padded), options);
  for (int step = 0; step < 10; ++step) {
    const auto b = batch(100 + step);
    const auto want = ember::lm_loss(plain->forward_for_loss(b.ids), b.targets);
    const auto got = ember::lm_loss(padded->forward_for_loss(b.ids), b.targets);
    INFO("step " << step);
    CHECK(std::abs(got.item<double>() - want.item<double>()) < 1e-5);
    opt_plain.zero_grad();
    opt_padded.zero_grad();
    want.backward();
    got.backward();
    opt_plain.step();
    opt_padded.step();
  }
}

TEST_CASE("vocab_pad_to: generation sees V logits", "[vocab_pad]") {
  auto plain = seeded(1);
  auto padded = seeded(64);
  plain->eval();
  padded->eval();
  const torch::NoGradGuard no_grad;
  const auto b = batch(3);
  ember::KVCache cache_plain(2);
  ember::KVCache cache_padded(2);
  const auto want = plain->forward_cached(b.ids, cache_plain);
  const auto got = padded->forward_cached(b.ids, cache_padded);
  REQUIRE(got.sizes() == want.sizes());
  CHECK(max_diff(got, want) < 1e-5);
  CHECK(torch::equal(got.argmax(-1), want.argmax(-1)));
}

TEST_CASE(
    "vocab_pad_to: 0 is refused, a classifier's head is not padded",
    "[vocab_pad]") {
  CHECK_THROWS_WITH(
      ember::GPTModel(ember::GPTModelOptions(kVocab, 16, 32).vocab_pad_to(0)),
      Catch::Contains("vocab_pad_to must be >= 1 (got 0)"));
  const ember::GPTModel classifier(
      ember::GPTModelOptions(kVocab, 16, 32).num_classes(2).vocab_pad_to(64));
  CHECK(classifier->head_rows() == 2);
}

TEST_CASE(
    "vocab_pad_to: bf16 on the CPU, the fused loss reads the -inf columns",
    "[vocab_pad]") {
  // Autocast computes bf16 on any CPU (emulated where it has no bf16
  // instructions; the config refuses that for speed, not correctness).
  auto plain = seeded(1);
  auto padded = seeded(64);
  plain->set_precision(ember::Precision::bf16);
  padded->set_precision(ember::Precision::bf16);
  const auto b = batch(5);
  const auto logits = padded->forward_for_loss(b.ids);
  REQUIRE(logits.scalar_type() == at::kBFloat16);  // the fused loss's input
  REQUIRE(logits.size(-1) == 128);
  const auto want = ember::lm_loss(plain->forward_for_loss(b.ids), b.targets);
  const auto got = ember::lm_loss(logits, b.targets);
  CHECK(std::abs(got.item<double>() - want.item<double>()) < 1e-4);
  want.backward();
  got.backward();
  const auto pp = plain->named_parameters();
  const auto pq = padded->named_parameters();
  for (const auto& p : pp) {
    INFO(p.key());
    const auto& g = pq[p.key()].grad();
    REQUIRE(torch::all(torch::isfinite(g)).item<bool>());
    CHECK(max_diff(g, p.value().grad()) < 1e-3);
  }
}
