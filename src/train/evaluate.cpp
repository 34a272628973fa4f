#include "ember/train/evaluate.hpp"

#include <algorithm>
#include <cmath>

#include <ATen/ops/ne.h>
#include <ATen/ops/sum.h>

namespace ember {

constexpr int64_t kIgnoreIndex = -100;  // cross_entropy's default

at::Tensor calc_loss_batch(
    GPTModel& model, const Batch& batch, c10::Device device) {
  return lm_loss(model(batch.inputs.to(device)), batch.targets.to(device));
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

}  // namespace ember
