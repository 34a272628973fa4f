#include "ember/train/metrics.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <ember/util/error.hpp>

namespace ember {

std::string metrics_json(const EvalRecord& r) {
  return fmt::format(
      "{{\"step\":{},\"epoch\":{},\"train_loss\":{:.17g},\"val_loss\":{:.17g},"
      "\"{}_seen\":{},\"elapsed_s\":{:.3f},\"{}_per_s\":{:.1f},"
      "\"lr\":{:.17g},\"grad_norm\":{}}}",
      r.step,
      r.epoch,
      r.train_loss,
      r.val_loss,
      r.examples ? "examples" : "tokens",
      r.tokens_seen,
      r.elapsed_s,
      r.examples ? "examples" : "tokens",
      r.tokens_per_s,
      r.lr,
      std::isfinite(r.grad_norm) ? fmt::format("{:.17g}", r.grad_norm)
                                 : std::string("null"));
}

std::string accuracy_json(const AccuracyRecord& r) {
  return fmt::format(
      "{{\"step\":{},\"epoch\":{},\"train_accuracy\":{:.17g},"
      "\"val_accuracy\":{:.17g},\"examples_seen\":{}}}",
      r.step,
      r.epoch,
      r.train_accuracy,
      r.val_accuracy,
      r.examples_seen);
}

namespace {

// Calls `each` with every non-blank line of `jsonl` parsed; a line that is
// not JSON or lacks a key `each` reads is an error naming it.
template <class F>
void for_each_json_line(std::string_view jsonl, F each) {
  size_t start = 0;
  int line_no = 0;
  while (start < jsonl.size()) {
    size_t nl = jsonl.find('\n', start);
    if (nl == std::string_view::npos) nl = jsonl.size();
    const std::string line(jsonl.substr(start, nl - start));
    start = nl + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      each(nlohmann::json::parse(line));
    } catch (const nlohmann::json::exception& e) {
      throw Error(fmt::format(
          "metrics.jsonl:{}: malformed line ({})", line_no, e.what()));
    }
  }
}

}  // namespace

std::vector<EvalRecord> parse_metrics(std::string_view jsonl) {
  std::vector<EvalRecord> out;
  for_each_json_line(jsonl, [&](const nlohmann::json& j) {
    if (j.contains("train_accuracy")) return;
    EvalRecord r;
    r.step = j.at("step").get<int64_t>();
    r.epoch = j.at("epoch").get<int64_t>();
    r.train_loss = j.at("train_loss").get<double>();
    r.val_loss = j.at("val_loss").get<double>();
    r.examples = j.contains("examples_seen");
    r.tokens_seen =
        j.at(r.examples ? "examples_seen" : "tokens_seen").get<int64_t>();
    r.elapsed_s = j.at("elapsed_s").get<double>();
    r.tokens_per_s =
        j.at(r.examples ? "examples_per_s" : "tokens_per_s").get<double>();
    r.lr = j.value("lr", 0.0);
    if (j.contains("grad_norm") && !j.at("grad_norm").is_null())
      r.grad_norm = j.at("grad_norm").get<double>();
    out.push_back(r);
  });
  return out;
}

std::vector<AccuracyRecord> parse_accuracies(std::string_view jsonl) {
  std::vector<AccuracyRecord> out;
  for_each_json_line(jsonl, [&](const nlohmann::json& j) {
    if (!j.contains("train_accuracy")) return;
    AccuracyRecord r;
    r.step = j.at("step").get<int64_t>();
    r.epoch = j.at("epoch").get<int64_t>();
    r.train_accuracy = j.at("train_accuracy").get<double>();
    r.val_accuracy = j.at("val_accuracy").get<double>();
    r.examples_seen = j.at("examples_seen").get<int64_t>();
    out.push_back(r);
  });
  return out;
}

namespace {

// "Nice" tick step for a range: 1, 2 or 5 times a power of ten.
double tick_step(double span, int target) {
  if (!(span > 0)) return 1;
  const double raw = span / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

std::string number(double v) {
  if (std::fabs(v) >= 1e6) return fmt::format("{:.3g}M", v / 1e6);
  if (std::fabs(v) >= 1e4) return fmt::format("{:.4g}k", v / 1e3);
  return fmt::format("{:g}", v);
}

// The plot's geometry: the SVG's size, the plot area inside its margins
// and the data range it shows.
struct PlotFrame {
  static constexpr double kW = 720, kH = 440, kL = 70, kR = 20, kT = 60,
                          kB = 60;
  static constexpr double kPlotW = kW - kL - kR;
  static constexpr double kPlotH = kH - kT - kB;
  double x_min = 0, x_max = 1, y_min = 0, y_max = 1;
  double tok_per_step = 0;  ///< tokens per step (0: unknown), top axis

  double px(double x) const {
    return kL + (x - x_min) / (x_max - x_min) * kPlotW;
  }
  double py(double y) const {
    return kT + (y_max - y) / (y_max - y_min) * kPlotH;
  }
};

// Steps on x, the finite losses (padded by 5%) on y.
PlotFrame plot_frame(const std::vector<EvalRecord>& records) {
  PlotFrame f;
  if (records.empty()) return f;
  f.x_min = static_cast<double>(records.front().step);
  f.x_max = static_cast<double>(records.back().step);
  if (f.x_max <= f.x_min) f.x_max = f.x_min + 1;
  f.y_min = 1e300;
  f.y_max = -1e300;
  for (const auto& r : records) {
    for (double v : {r.train_loss, r.val_loss}) {
      if (!std::isfinite(v)) continue;
      f.y_min = std::min(f.y_min, v);
      f.y_max = std::max(f.y_max, v);
    }
  }
  if (f.y_min > f.y_max) f.y_min = 0, f.y_max = 1;
  if (f.y_max - f.y_min < 1e-9) f.y_max = f.y_min + 1;
  const double pad = 0.05 * (f.y_max - f.y_min);
  f.y_min -= pad;
  f.y_max += pad;
  const auto& last = records.back();
  if (last.step > 0) {
    f.tok_per_step =
        static_cast<double>(last.tokens_seen) / static_cast<double>(last.step);
  }
  return f;
}

// What a plot's axes and curves are called.
struct PlotLabels {
  const char* x = "step (optimizer steps)";
  const char* top = "tokens seen";
  const char* y = "loss";
  const char* curves[2] = {"training loss", "validation loss"};
};

// Frame, grid, ticks (steps below, tokens seen above) and axis labels.
std::string plot_axes(const PlotFrame& f, const PlotLabels& labels) {
  constexpr double kH = PlotFrame::kH, kL = PlotFrame::kL, kT = PlotFrame::kT,
                   kPlotW = PlotFrame::kPlotW, kPlotH = PlotFrame::kPlotH;
  std::string s = fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" "
      "stroke=\"#444\"/>\n",
      kL,
      kT,
      kPlotW,
      kPlotH);
  const double ys = tick_step(f.y_max - f.y_min, 6);
  for (double y = std::ceil(f.y_min / ys) * ys; y <= f.y_max; y += ys) {
    s += fmt::format(
        "<line x1=\"{0}\" x2=\"{1}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" "
        "stroke=\"#ddd\"/><text x=\"{3}\" y=\"{4:.1f}\" "
        "text-anchor=\"end\">{5}</text>\n",
        kL,
        kL + kPlotW,
        f.py(y),
        kL - 6,
        f.py(y) + 4,
        number(y));
  }
  const double xs = std::max(1.0, tick_step(f.x_max - f.x_min, 8));
  for (double x = std::ceil(f.x_min / xs) * xs; x <= f.x_max + 1e-9; x += xs) {
    s += fmt::format(
        "<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1}\" y2=\"{2}\" "
        "stroke=\"#ddd\"/><text x=\"{0:.1f}\" y=\"{3}\" "
        "text-anchor=\"middle\">{4}</text>\n",
        f.px(x),
        kT,
        kT + kPlotH,
        kT + kPlotH + 16,
        number(x));
    if (f.tok_per_step > 0) {
      s += fmt::format(
          "<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\" "
          "fill=\"#555\">{}</text>\n",
          f.px(x),
          kT - 8,
          number(x * f.tok_per_step));
    }
  }
  s += fmt::format(
      "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n<text "
      "x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#555\">{}</text>\n"
      "<text x=\"16\" y=\"{}\" text-anchor=\"middle\" transform=\"rotate(-90 "
      "16 {})\">{}</text>\n",
      kL + kPlotW / 2,
      kH - 14,
      labels.x,
      kL + kPlotW / 2,
      20,
      labels.top,
      kT + kPlotH / 2,
      kT + kPlotH / 2,
      labels.y);
  return s;
}

// The two curves (validation dashed), each with its legend entry.
std::string plot_curves(
    const PlotFrame& f,
    const std::vector<EvalRecord>& records,
    const PlotLabels& labels) {
  constexpr double kL = PlotFrame::kL, kT = PlotFrame::kT,
                   kPlotW = PlotFrame::kPlotW;
  const char* colors[2] = {"#1f77b4", "#ff7f0e"};
  const char* const* names = labels.curves;
  std::string s;
  for (int k = 0; k < 2; ++k) {
    std::string pts;
    for (const auto& r : records) {
      const double v = k == 0 ? r.train_loss : r.val_loss;
      if (!std::isfinite(v)) continue;
      pts += fmt::format(
          "{:.1f},{:.1f} ", f.px(static_cast<double>(r.step)), f.py(v));
    }
    s += fmt::format(
        "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{} "
        "points=\"{}\"/>\n",
        colors[k],
        k == 1 ? " stroke-dasharray=\"6 3\"" : "",
        pts);
    s += fmt::format(
        "<line x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\" stroke=\"{3}\" "
        "stroke-width=\"2\"{4}/><text x=\"{5}\" y=\"{6}\">{7}</text>\n",
        kL + kPlotW - 150,
        kL + kPlotW - 120,
        kT + 18 + 18 * k,
        colors[k],
        k == 1 ? " stroke-dasharray=\"6 3\"" : "",
        kL + kPlotW - 114,
        kT + 22 + 18 * k,
        names[k]);
  }
  return s;
}

// The learning-rate panel below the loss plot: its own frame and y axis,
// the loss plot's steps on x.
constexpr double kLrTop = PlotFrame::kH;  // the panel's frame starts here
constexpr double kLrH = 120;              // its height
constexpr double kLrPanel = kLrH + 50;    // what it adds to the SVG

bool has_lr(const std::vector<EvalRecord>& records) {
  return std::any_of(
      records.begin(), records.end(), [](const auto& r) { return r.lr > 0; });
}

std::string plot_lr_panel(
    const PlotFrame& f, const std::vector<EvalRecord>& records) {
  constexpr double kL = PlotFrame::kL, kPlotW = PlotFrame::kPlotW;
  double lo = 1e300, hi = 0;
  for (const auto& r : records)
    lo = std::min(lo, r.lr), hi = std::max(hi, r.lr);
  if (hi - lo < 1e-12 * hi) lo = 0;  // a constant rate: from 0
  const double pad = 0.05 * (hi - lo);
  lo = std::max(0.0, lo - pad);
  hi += pad;
  const auto py = [&](double v) {
    return kLrTop + (hi - v) / (hi - lo) * kLrH;
  };
  std::string s = fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" "
      "stroke=\"#444\"/>\n",
      kL,
      kLrTop,
      kPlotW,
      kLrH);
  const double ys = tick_step(hi - lo, 4);
  for (double y = std::ceil(lo / ys) * ys; y <= hi; y += ys) {
    s += fmt::format(
        "<line x1=\"{0}\" x2=\"{1}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" "
        "stroke=\"#ddd\"/><text x=\"{3}\" y=\"{4:.1f}\" "
        "text-anchor=\"end\">{5:.3g}</text>\n",
        kL,
        kL + kPlotW,
        py(y),
        kL - 6,
        py(y) + 4,
        y);
  }
  std::string pts;
  for (const auto& r : records) {
    pts += fmt::format(
        "{:.1f},{:.1f} ", f.px(static_cast<double>(r.step)), py(r.lr));
  }
  s += fmt::format(
      "<polyline fill=\"none\" stroke=\"#2ca02c\" stroke-width=\"2\" "
      "points=\"{}\"/>\n<text x=\"16\" y=\"{}\" text-anchor=\"middle\" "
      "transform=\"rotate(-90 16 {})\">learning rate</text>\n",
      pts,
      kLrTop + kLrH / 2,
      kLrTop + kLrH / 2);
  return s;
}

// An SVG's opening tag and white background.
std::string svg_open(double w, double h) {
  return fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "viewBox=\"0 0 {} {}\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      w,
      h,
      w,
      h);
}

}  // namespace

std::string loss_plot_svg(const std::vector<EvalRecord>& records) {
  constexpr double kW = PlotFrame::kW;
  const bool lr_panel = has_lr(records);
  const double height = PlotFrame::kH + (lr_panel ? kLrPanel : 0);
  std::string s = svg_open(kW, height);
  const PlotFrame frame = plot_frame(records);
  const PlotLabels labels;
  s += plot_axes(frame, labels);
  s += plot_curves(frame, records, labels);
  if (lr_panel) s += plot_lr_panel(frame, records);
  s += "</svg>\n";
  return s;
}

std::string accuracy_plot_svg(const std::vector<AccuracyRecord>& records) {
  // The loss plot's frame and curves over epochs, in percent.
  std::vector<EvalRecord> points;
  for (const auto& a : records) {
    EvalRecord r;
    r.step = a.epoch;
    r.train_loss = 100 * a.train_accuracy;
    r.val_loss = 100 * a.val_accuracy;
    r.tokens_seen = a.examples_seen;
    points.push_back(r);
  }
  PlotLabels labels;
  labels.x = "epoch";
  labels.top = "examples seen";
  labels.y = "accuracy (%)";
  labels.curves[0] = "training accuracy";
  labels.curves[1] = "validation accuracy";
  constexpr double kW = PlotFrame::kW, kH = PlotFrame::kH;
  std::string s = svg_open(kW, kH);
  const PlotFrame frame = plot_frame(points);
  s += plot_axes(frame, labels);
  s += plot_curves(frame, points, labels);
  s += "</svg>\n";
  return s;
}

}  // namespace ember
