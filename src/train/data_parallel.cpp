// The torchrun step of the trainer (trainer_state.hpp): each rank trains on
// its share of every global batch of world * data.batch_size rows, so N
// ranks x batch b is the run of one process x batch N*b. The mechanics
// (broadcast, loss agreement, accumulation as no_sync(), bucketed
// all-reduce) are dist::DataParallel's; this file says what a rank's share
// of a batch and its loss are, and when the optimizer steps.
#include <cmath>

#include "trainer_state.hpp"
#include <ATen/ops/cat.h>

namespace ember::detail {

void Trainer::prepare_reducer() {
  if (!group_) return;
  std::vector<at::Tensor> state;
  for (auto& [name, t] : model_state(*model_)) state.push_back(t);
  // The token table's gradient is non-zero only in the rows of the ids the
  // batch looked up (embedding backward is an index_add), unless the output
  // head shares the table: then every row has a gradient.
  std::vector<at::Tensor> row_sparse;
  if (cfg_.train.runtime.dist_sparse_embedding && !cfg_.model.tie_weights) {
    // Keep the dict alive: find() points into it.
    const auto named = model_->named_parameters();
    const auto* t = named.find("tok_emb.weight");
    if (t != nullptr && t->requires_grad()) {
      tok_table_ = *t;
      row_sparse.push_back(tok_table_);
    }
  }
  parallel_ =
      std::make_unique<dist::DataParallel>(*group_, state, params_, row_sparse);
}

// This rank's loss on its share of one global micro-batch, scaled so that
// the ranks' averaged gradients sum to the step's mean (undefined when the
// rank got no rows or no counted targets), and its value's share of the
// step's global loss. The share is by counted targets (loss_weight): the
// rows' share for windows, fewer for padded instruction rows.
dist::DataParallel::Part Trainer::rank_loss(const Batch& batch, size_t n) {
  const Batch mine = shard(batch, share());
  if (mine.inputs.size(0) == 0) return {};
  const double weight = loss_weight(mine, batch);
  if (weight == 0) return {};
  const auto loss = calc_loss_batch(model_, mine, runtime_.device);
  const double num = static_cast<double>(n);
  return {loss * (weight * world_ / num), loss.item<double>() * weight / num};
}

// One optimizer step on the ranks' shares of `micro`. A non-finite global
// loss stops every rank before any weight changes, as without torchrun.
void Trainer::distributed_step(const std::vector<Batch>& micro) {
  // Every rank names its ids, even none: the row mask is a collective. It
  // covers every micro-batch whose gradient the step sums.
  if (tok_table_.defined()) {
    std::vector<at::Tensor> ids;
    for (const auto& b : micro) {
      ids.push_back(shard(b, share()).inputs.reshape({-1}));
    }
    parallel_->expect_rows(tok_table_, ids.size() == 1 ? ids[0] : at::cat(ids));
  }
  const bool stop_here = opt_.stop != nullptr && opt_.stop->load() != 0;
  const auto agreed = parallel_->accumulate(
      micro.size(),
      [&](size_t j) { return rank_loss(micro[j], micro.size()); },
      stop_here);
  stop_agreed_ = agreed.stop;
  if (!std::isfinite(agreed.loss)) {
    ++step_;
    throw non_finite("training", agreed.loss);
  }
  if (norm_due()) {
    // Clipping needs every averaged gradient before any update.
    parallel_->finish();
    clip_gradients();
    optimizer_->step();
    return;
  }
  last_grad_norm_ = std::nan("");  // not measured
  optimizer_->begin_step();
  parallel_->finish([&](const at::Tensor& p) { optimizer_->update(p); });
}

void Trainer::log_distributed_stats() const {
  parallel_->log_stats(
      log_,
      step_ - step_at_start_,
      session_s(),
      cfg_.train.optimizer.grad_accum_steps);
}

}  // namespace ember::detail
