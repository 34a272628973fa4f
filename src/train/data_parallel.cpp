// The torchrun step of the trainer (trainer_state.hpp): each rank trains on
// its share of every global batch of world * data.batch_size windows, so N
// ranks x batch b is the run of one process x batch N*b; gradients are
// averaged with bucketed all-reduce (dist::GradientReducer) as DDP does,
// accumulation as DDP's no_sync(), and the step's loss and stop flag agreed
// on before the last backward.
#include <chrono>
#include <cmath>

#include "trainer_state.hpp"
#include <ATen/ops/cat.h>
#include <ATen/ops/empty.h>
#include <c10/core/GradMode.h>
#include <fmt/core.h>

namespace ember::detail {

void Trainer::prepare_reducer() {
  if (!group_) return;
  // Identical starting weights on every rank (the seed already gives them;
  // the broadcast makes it a fact, resumed runs included).
  std::vector<torch::Tensor> state;
  for (auto& [name, t] : model_state(*model_)) state.push_back(t);
  {
    c10::NoGradGuard no_grad;
    group_->broadcast(state, 0);
  }
  // The token table's gradient is non-zero only in the rows of the ids the
  // batch looked up (embedding backward is an index_add), unless the output
  // head shares the table: then every row has a gradient.
  std::vector<torch::Tensor> row_sparse;
  if (cfg_.train.runtime.dist_sparse_embedding && !cfg_.model.tie_weights) {
    // Keep the dict alive: find() points into it.
    const auto named = model_->named_parameters();
    if (const auto* t = named.find("tok_emb.weight")) {
      tok_table_ = *t;
      row_sparse.push_back(tok_table_);
    }
  }
  reducer_ = std::make_unique<dist::GradientReducer>(
      *group_, params_, size_t{4} << 20, row_sparse);
}

// This rank's loss on its share of one global micro-batch, scaled so that
// the ranks' averaged gradients sum to the step's mean (undefined when the
// rank got no rows or no counted targets), and its value's share of the
// step's global loss. The share is by counted targets (loss_weight): the
// rows' share for windows, fewer for padded instruction rows.
std::pair<at::Tensor, double> Trainer::rank_loss(const Batch& batch, size_t n) {
  const Batch mine = shard(batch, share());
  if (mine.inputs.size(0) == 0) return {at::Tensor(), 0.0};
  const double share = loss_weight(mine, batch);
  if (share == 0) return {at::Tensor(), 0.0};
  const auto loss = calc_loss_batch(model_, mine, runtime_.device);
  const double num = static_cast<double>(n);
  return {loss * (share * world_ / num), loss.item<double>() * share / num};
}

// Gradient accumulation as DDP's no_sync(): the micro-batches before the
// last only add to .grad(); the last one's backward launches the buckets'
// all-reduces (once per step, of the summed gradients).
void Trainer::distributed_step(const std::vector<Batch>& micro) {
  // Every rank names its ids, even none: the row mask is a collective. It
  // covers every micro-batch whose gradient the step sums.
  if (tok_table_.defined()) {
    std::vector<at::Tensor> ids;
    for (const auto& b : micro) {
      ids.push_back(shard(b, share()).inputs.reshape({-1}));
    }
    reducer_->expect_rows(tok_table_, ids.size() == 1 ? ids[0] : at::cat(ids));
  }
  double local = 0;
  reducer_->set_require_sync(false);
  for (size_t j = 0; j < micro.size(); ++j) {
    auto [loss, part] = rank_loss(micro[j], micro.size());
    local += part;
    if (j + 1 == micro.size()) {
      agree_on_loss(local);
      reducer_->set_require_sync(true);
    }
    if (loss.defined()) loss.backward();
  }
  reduce_and_update();
}

// The global loss and the stop flag, agreed on before the last backward: a
// non-finite loss stops every rank before any weight changes, as without
// torchrun (the all-reduce also absorbs the ranks' forward imbalance, so it
// counts as communication).
void Trainer::agree_on_loss(double local) {
  const bool stop_here = opt_.stop != nullptr && opt_.stop->load() != 0;
  auto agreed = at::empty({2}, at::kDouble);
  agreed.data_ptr<double>()[0] = local;
  agreed.data_ptr<double>()[1] = stop_here ? 1.0 : 0.0;
  const auto agree_start = std::chrono::steady_clock::now();
  group_->allreduce_sum(agreed);
  comm_wait_s_ += std::chrono::duration<double>(
                      std::chrono::steady_clock::now() - agree_start)
                      .count();
  const double loss_value = agreed.data_ptr<double>()[0];
  stop_agreed_ = agreed.data_ptr<double>()[1] > 0;
  if (!std::isfinite(loss_value)) {
    ++step_;
    throw non_finite("training", loss_value);
  }
}

void Trainer::reduce_and_update() {
  if (norm_due()) {
    // Clipping needs every averaged gradient before any update.
    reducer_->finish();
    comm_wait_s_ += reducer_->last_wait_s();
    clip_gradients();
    optimizer_->step();
    return;
  }
  last_grad_norm_ = std::nan("");  // not measured
  // Each bucket's parameters are updated as soon as their averaged
  // gradients arrive, while the larger buckets are still on the wire.
  optimizer_->begin_step();
  reducer_->finish([&](const std::vector<at::Tensor>& reduced) {
    for (const auto& p : reduced) optimizer_->update(p);
  });
  comm_wait_s_ += reducer_->last_wait_s();
}

void Trainer::log_distributed_stats() const {
  const double per_step =
      session_s() / static_cast<double>(step_ - step_at_start_);
  const double wait =
      comm_wait_s_ / static_cast<double>(step_ - step_at_start_);
  fmt::print(
      log_,
      "distributed: gradient all-reduce wait {:.1f} ms/step of {:.1f} "
      "ms/step ({:.1f}%)\n",
      1e3 * wait,
      1e3 * per_step,
      100 * wait / per_step);
  // One all-reduce per bucket and optimizer step, however many
  // micro-batches the step sums (train.grad_accum_steps).
  const auto stats = reducer_->stats();
  fmt::print(
      log_,
      "distributed: {} bucket all-reduces in {} optimizer steps ({} buckets, "
      "{} micro-batches a step)\n",
      stats.allreduces,
      stats.steps,
      stats.buckets.size(),
      cfg_.train.optimizer.grad_accum_steps);
  // Where the wait comes from, bucket by bucket (backward fills them in
  // this order).
  for (size_t k = 0; k < stats.buckets.size(); ++k) {
    const auto& b = stats.buckets[k];
    fmt::print(
        log_,
        "distributed: bucket {} ({} {}, {}): {:.2f} MB/step, launched "
        "{:.1f} ms after the first gradient (finish at {:.1f} ms), wait "
        "{:.1f} ms/step\n",
        k,
        b.num_params,
        b.num_params == 1 ? "tensor" : "tensors",
        b.row_sparse ? "row-sparse" : "dense",
        b.mbytes,
        b.ready_ms,
        stats.backward_ms,
        b.wait_ms);
  }
}

}  // namespace ember::detail
