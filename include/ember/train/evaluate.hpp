// Evaluation during training: the book's calc_loss_loader (ch05
// gpt_train.py: the mean loss of a loader's first num_batches batches, one
// fresh pass) and, under torchrun, each rank's share of a global batch.
// The seams a new task uses: a batch source (Loader) and a loss.
// Leaves out: metrics other than the loss (perplexity is exp of it).
#pragma once

#include <cmath>
#include <cstdint>

#include <c10/core/Device.h>

#include <ember/data/loader.hpp>
#include <ember/dist/process_group.hpp>
#include <ember/nn/gpt_model.hpp>

namespace ember {

/// Which rows of each global batch this process takes: all of them alone;
/// under torchrun rank `rank` of `world` takes rows [rank * per_rank, ...).
struct BatchShare {
  int rank = 0;
  int world = 1;
  int64_t per_rank = 0;  ///< data.batch_size
};

/// The book's calc_loss_batch: `batch` moved to `device`, the model's
/// logits, and the loss of its head: lm_loss (cross-entropy over every
/// position whose target is not -100, averaged over those) or, for a
/// classifier, last_token_loss (ch06: the last position's logits against
/// the labels). The one loss of the trainer, training and evaluation alike.
at::Tensor calc_loss_batch(
    GPTModel& model, const Batch& batch, c10::Device device);

/// The weight of `part`'s loss in the loss of `whole` (which contains it):
/// its share of the targets the loss counts (those not -100, the
/// ignore_index of instruction batches). For windows, where every target
/// counts, the share of rows. 0 when `part` counts none.
double loss_weight(const Batch& part, const Batch& whole);

/// `share`'s rows of `b`, clipped to the batch (a short last batch may
/// leave a rank few or no rows). With world == 1 the batch itself.
Batch shard(const Batch& b, const BatchShare& share);

/// The book's calc_loss_loader(loader, model, device, num_batches): the mean
/// of lm_loss over the first min(eval_iter, batches) batches of a fresh
/// pass (which draws from the generator as DataLoader does); NaN when the
/// loader has no batch. Call in eval mode under NoGradGuard. With a `group`
/// each rank adds its rows' share of each batch mean and the ranks' sums
/// are all-reduced, so every rank returns the single process's value.
double calc_loss_loader(
    GPTModel& model,
    Loader& loader,
    int64_t eval_iter,
    c10::Device device,
    const BatchShare& share,
    dist::ProcessGroup* group);

/// Correct predictions of a classifier over a number of examples.
struct Accuracy {
  int64_t correct = 0;
  int64_t examples = 0;
  /// correct / examples; NaN when there was no example.
  double fraction() const {
    return examples == 0
               ? std::nan("")
               : static_cast<double>(correct) / static_cast<double>(examples);
  }
};

/// The book's calc_accuracy_loader(loader, model, device, num_batches): the
/// last position's argmax against the labels over the first num_batches
/// batches (0 = all) of a fresh pass (which draws as DataLoader does). Call
/// in eval mode under NoGradGuard. With a `group` each rank counts its rows
/// of each batch and the counts are all-reduced.
Accuracy calc_accuracy_loader(
    GPTModel& model,
    Loader& loader,
    int64_t num_batches,
    c10::Device device,
    const BatchShare& share,
    dist::ProcessGroup* group);

}  // namespace ember
