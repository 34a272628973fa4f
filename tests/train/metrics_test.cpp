// metrics.jsonl lines and the SVG loss plot.
#include <cmath>

#include <catch2/catch.hpp>

#include <ember/train/metrics.hpp>
#include <ember/util/error.hpp>

namespace {
size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos;
       p = text.find(what, p + 1)) {
    ++n;
  }
  return n;
}
}  // namespace

TEST_CASE("Metrics: a line round-trips through parse_metrics", "[metrics]") {
  ember::EvalRecord r{6, 1, 10.123456789012345, 9.87654321, 3072, 1.5, 2048.0};
  const std::string line = ember::metrics_json(r);
  CHECK(
      line ==
      "{\"step\":6,\"epoch\":1,\"train_loss\":10.123456789012344,"
      "\"val_loss\":9.8765432099999995,\"tokens_seen\":3072,\"elapsed_s\":1."
      "500,\"tokens_per_s\":2048.0,\"lr\":0,\"grad_norm\":null}");
  const auto back = ember::parse_metrics(line + "\n\n" + line + "\n");
  REQUIRE(back.size() == 2);
  CHECK(back[1].step == 6);
  CHECK(back[1].train_loss == r.train_loss);  // 17 digits: exact
  CHECK(back[1].val_loss == r.val_loss);
  CHECK(back[1].tokens_seen == 3072);
  CHECK_THROWS_AS(
      ember::parse_metrics(line + "\n{\"step\":1}\n"), ember::Error);
  // lr and grad_norm round-trip; lines written before them still parse.
  r.lr = 0.1 + 0.2;
  r.grad_norm = 1.0 / 3;
  const auto with_lr = ember::parse_metrics(ember::metrics_json(r));
  REQUIRE(with_lr.size() == 1);
  CHECK(with_lr[0].lr == r.lr);
  CHECK(with_lr[0].grad_norm == r.grad_norm);
  const auto old = ember::parse_metrics(
      "{\"step\":6,\"epoch\":1,\"train_loss\":1,\"val_loss\":2,"
      "\"tokens_seen\":3,\"elapsed_s\":1,\"tokens_per_s\":1}");
  REQUIRE(old.size() == 1);
  CHECK(old[0].lr == 0);
  CHECK(std::isnan(old[0].grad_norm));
}

TEST_CASE("Metrics: the plot gains a learning-rate panel", "[metrics]") {
  std::vector<ember::EvalRecord> rows;
  for (int64_t s = 1; s <= 21; s += 5) {
    ember::EvalRecord r{s, 1, 10.0, 10.5, s * 512, 1, 1};
    r.lr = 1e-3 * static_cast<double>(s) / 21;
    rows.push_back(r);
  }
  const std::string svg = ember::loss_plot_svg(rows);
  CHECK(svg.find("height=\"610\"") != std::string::npos);
  CHECK(svg.find(">learning rate<") != std::string::npos);
  CHECK(count(svg, "<polyline") == 3);
  // Records without a rate (older runs) keep the plain plot.
  for (auto& r : rows) r.lr = 0;
  CHECK(ember::loss_plot_svg(rows).find("learning rate") == std::string::npos);
}

TEST_CASE("Metrics: the plot has both curves and both axes", "[metrics]") {
  std::vector<ember::EvalRecord> rows;
  for (int64_t s = 1; s <= 21; s += 5) {
    rows.push_back(
        {s, 1, 10.0 - 0.1 * static_cast<double>(s), 10.5, s * 512, 1, 1});
  }
  const std::string svg = ember::loss_plot_svg(rows);
  CHECK(svg.rfind("<svg", 0) == 0);
  CHECK(svg.find("</svg>") != std::string::npos);
  CHECK(count(svg, "<polyline") == 2);
  CHECK(svg.find("tokens seen") != std::string::npos);
  CHECK(svg.find(">10.24k<") != std::string::npos);  // tokens at step 20
  CHECK(svg.find("validation loss") != std::string::npos);
  // Empty and single-point inputs still give a valid document.
  CHECK(ember::loss_plot_svg({}).find("</svg>") != std::string::npos);
  CHECK(ember::loss_plot_svg({rows[0]}).find("</svg>") != std::string::npos);
}

TEST_CASE(
    "Metrics: a classifier's lines: examples_seen and accuracies",
    "[metrics]") {
  ember::EvalRecord r;
  r.step = 51;
  r.epoch = 1;
  r.train_loss = 0.5;
  r.val_loss = 0.25;
  r.tokens_seen = 408;
  r.examples = true;
  const std::string eval = ember::metrics_json(r);
  CHECK_THAT(eval, Catch::Contains("\"examples_seen\":408"));
  CHECK_THAT(eval, !Catch::Contains("tokens_seen"));
  ember::AccuracyRecord a{130, 1, 0.875, 0.75, 1040};
  const std::string acc = ember::accuracy_json(a);
  CHECK(
      acc ==
      "{\"step\":130,\"epoch\":1,\"train_accuracy\":0.875,\"val_accuracy\":"
      "0.75,\"examples_seen\":1040}");
  const std::string lines = eval + "\n" + acc + "\n";
  const auto evals = ember::parse_metrics(lines);
  REQUIRE(evals.size() == 1);
  CHECK(evals[0].examples);
  CHECK(evals[0].tokens_seen == 408);
  const auto accs = ember::parse_accuracies(lines);
  REQUIRE(accs.size() == 1);
  CHECK(accs[0].val_accuracy == 0.75);
  CHECK(accs[0].examples_seen == 1040);
  const auto svg = ember::accuracy_plot_svg({a, {260, 2, 0.9375, 0.875, 2080}});
  CHECK_THAT(svg, Catch::Contains("validation accuracy"));
  CHECK_THAT(svg, Catch::Contains("examples seen"));
  CHECK_THAT(svg, Catch::Contains(">epoch<"));
}
