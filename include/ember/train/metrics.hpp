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
  /// Input tokens seen; for a classifier examples seen (`examples` set,
  /// written as "examples_seen", the book's chapter 6).
  int64_t tokens_seen = 0;
  double elapsed_s = 0;
  double tokens_per_s = 0;
  /// The learning rate of the last optimizer step before the evaluation.
  double lr = 0;
  /// Its global gradient norm before clipping (NaN: not known, written as
  /// null).
  double grad_norm = std::nan("");
  /// tokens_seen counts examples (a classifier).
  bool examples = false;
};

/// One JSON object, no newline:
/// {"step":1,"epoch":1,"train_loss":9.8,"val_loss":9.9,"tokens_seen":512,
///  "elapsed_s":0.8,"tokens_per_s":640.0,"lr":0.0004,"grad_norm":2.5}
/// (losses, lr and grad_norm with 17 significant digits, so they
/// round-trip; a grad_norm that is not finite is null).
std::string metrics_json(const EvalRecord& r);

/// A classifier's accuracies after an epoch (the book's chapter 6: on
/// eval_iter batches of training and validation data), fractions in [0, 1].
struct AccuracyRecord {
  int64_t step = 0;
  int64_t epoch = 0;  ///< 1-based: the epoch just ended
  double train_accuracy = 0;
  double val_accuracy = 0;
  int64_t examples_seen = 0;
};

/// {"step":50,"epoch":1,"train_accuracy":0.9,"val_accuracy":0.85,
///  "examples_seen":400}
std::string accuracy_json(const AccuracyRecord& r);

/// Parses metrics.jsonl text's evaluation lines (blank lines and accuracy
/// lines skipped; lines without lr and grad_norm, from before they were
/// recorded, read as 0 and NaN). Throws ember::Error naming the line on
/// malformed input.
std::vector<EvalRecord> parse_metrics(std::string_view jsonl);

/// Its accuracy lines (those with train_accuracy), in order.
std::vector<AccuracyRecord> parse_accuracies(std::string_view jsonl);

/// A self-contained SVG: loss vs step (bottom axis) and tokens seen (top
/// axis), one line for train loss, one for validation loss; below it, when
/// the records have a learning rate, a panel with the learning rate against
/// the same steps (the book's appendix-D figures).
std::string loss_plot_svg(const std::vector<EvalRecord>& records);

/// The book's figure 6.17: training and validation accuracy (%) against
/// epochs, examples seen on the top axis.
std::string accuracy_plot_svg(const std::vector<AccuracyRecord>& records);

}  // namespace ember
