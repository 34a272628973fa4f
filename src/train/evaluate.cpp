#include "ember/train/evaluate.hpp"

#include <algorithm>
#include <cmath>

#include <ATen/ops/argmax.h>
#include <ATen/ops/eq.h>
#include <ATen/ops/ne.h>
#include <ATen/ops/sum.h>

namespace ember {

constexpr int64_t kIgnoreIndex = -100;  // cross_entropy's default

namespace {

// A batch's tensor on `device`. To CUDA through pinned host memory, the
// copy queued without waiting (the book's DataLoader(pin_memory=True) and
// .to(device, non_blocking=True)): the host moves on to the next batch
// while the copy runs, and the stream orders it before the forward.
at::Tensor to_device(const at::Tensor& t, c10::Device device) {
  if (!device.is_cuda() || !t.device().is_cpu()) return t.to(device);
  return t.pin_memory().to(device, /*non_blocking=*/true);
}

}  // namespace

at::Tensor calc_loss_batch(
    GPTModel& model, const Batch& batch, c10::Device device) {
  const auto inputs = to_device(batch.inputs, device);
  const auto targets = to_device(batch.targets, device);
  if (model->options().num_classes() > 0)
    return last_token_loss(model->forward_last(inputs), targets);
  return lm_loss(model->forward_for_loss(inputs), targets);
}

namespace {

int64_t counted_targets(const Batch& b) {
  return b.targets.ne(kIgnoreIndex).sum().item<int64_t>();
}

}  // namespace

double loss_weight(const Batch& part, const Batch& whole) {
  const int64_t counted = counted_targets(part);
  if (counted == 0) return 0.0;
  return static_cast<double>(counted) /
         static_cast<double>(counted_targets(whole));
}

Batch shard(const Batch& b, const BatchShare& share) {
  if (share.world == 1) return b;
  const int64_t rows = b.inputs.size(0);
  const int64_t begin = std::min<int64_t>(share.rank * share.per_rank, rows);
  const int64_t n = std::min<int64_t>(share.per_rank, rows - begin);
  return Batch{b.inputs.narrow(0, begin, n), b.targets.narrow(0, begin, n)};
}

double calc_loss_loader(
    GPTModel& model,
    Loader& loader,
    int64_t eval_iter,
    c10::Device device,
    const BatchShare& share,
    dist::ProcessGroup* group) {
  const auto n =
      std::min<int64_t>(eval_iter, static_cast<int64_t>(loader.num_batches()));
  if (n == 0) return std::nan("");
  auto pass = loader.begin_pass();
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    auto b = pass.next();
    if (share.world == 1) {
      total += calc_loss_batch(model, *b, device).item<double>();
      continue;
    }
    // This rank's rows' share of the global batch mean.
    const Batch mine = shard(*b, share);
    const double weight = loss_weight(mine, *b);
    if (weight == 0) continue;
    total += calc_loss_batch(model, mine, device).item<double>() * weight;
  }
  if (group != nullptr) total = group->allreduce_sum(total);
  return total / static_cast<double>(n);
}

Accuracy calc_accuracy_loader(
    GPTModel& model,
    Loader& loader,
    int64_t num_batches,
    c10::Device device,
    const BatchShare& share,
    dist::ProcessGroup* group) {
  const auto all = static_cast<int64_t>(loader.num_batches());
  const int64_t n = num_batches > 0 ? std::min(num_batches, all) : all;
  Accuracy out;
  auto pass = loader.begin_pass();
  for (int64_t i = 0; i < n; ++i) {
    const Batch mine = shard(*pass.next(), share);
    if (mine.inputs.size(0) == 0) continue;
    // The book: argmax of the last position's logits.
    const auto predicted = model->forward_last(to_device(mine.inputs, device))
                               .select(1, -1)
                               .argmax(-1);
    out.correct +=
        predicted.eq(to_device(mine.targets, device)).sum().item<int64_t>();
    out.examples += mine.inputs.size(0);
  }
  if (group != nullptr) {
    out.correct = static_cast<int64_t>(
        group->allreduce_sum(static_cast<double>(out.correct)));
    out.examples = static_cast<int64_t>(
        group->allreduce_sum(static_cast<double>(out.examples)));
  }
  return out;
}

}  // namespace ember
