// What a training run records at each evaluation: one metrics.jsonl line and
// the loss plot (the book's figure 5.12: train and validation loss against
// steps, with tokens seen on a second axis, and the learning rate in a panel
// below), drawn as a standalone SVG.
// Plain C++17, no LibTorch. Leaves out: PNG output, interactive plots.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ember {

struct EvalRecord {
  int64_t step = 0;   ///< optimizer steps taken
  int64_t epoch = 0;  ///< 1-based
  double train_loss = 0;
  double val_loss = 0;
  int64_t tokens_seen = 0;
  double elapsed_s = 0;
  double tokens_per_s = 0;
  /// The learning rate of the last optimizer step before the evaluation.
  double lr = 0;
  /// Its global gradient norm before clipping (NaN: not known, written as
  /// null).
  double grad_norm = std::nan("");
};

/// One JSON object, no newline:
/// {"step":1,"epoch":1,"train_loss":9.8,"val_loss":9.9,"tokens_seen":512,
///  "elapsed_s":0.8,"tokens_per_s":640.0,"lr":0.0004,"grad_norm":2.5}
/// (losses, lr and grad_norm with 17 significant digits, so they
/// round-trip; a grad_norm that is not finite is null).
std::string metrics_json(const EvalRecord& r);

/// Parses metrics.jsonl text (blank lines skipped; lines without lr and
/// grad_norm, from before they were recorded, read as 0 and NaN). Throws
/// ember::Error naming the line on malformed input.
std::vector<EvalRecord> parse_metrics(std::string_view jsonl);

/// A self-contained SVG: loss vs step (bottom axis) and tokens seen (top
/// axis), one line for train loss, one for validation loss; below it, when
/// the records have a learning rate, a panel with the learning rate against
/// the same steps (the book's appendix-D figures).
std::string loss_plot_svg(const std::vector<EvalRecord>& records);

}  // namespace ember
