#include "ember/dist/data_parallel.hpp"

#include <chrono>
#include <cmath>

#include <ATen/ops/empty.h>
#include <c10/core/GradMode.h>
#include <fmt/core.h>

namespace ember::dist {

DataParallel::DataParallel(
    ProcessGroup& group,
    const std::vector<at::Tensor>& state,
    std::vector<at::Tensor> params,
    std::vector<at::Tensor> row_sparse)
    : group_(group) {
  // Identical starting weights on every rank (the seed already gives them;
  // the broadcast makes it a fact, resumed runs included).
  {
    std::vector<at::Tensor> tensors = state;
    c10::NoGradGuard no_grad;
    group_.broadcast(tensors, 0);
  }
  reducer_ = std::make_unique<GradientReducer>(
      group_, std::move(params), size_t{4} << 20, std::move(row_sparse));
}

DataParallel::~DataParallel() = default;

void DataParallel::expect_rows(const at::Tensor& table, const at::Tensor& ids) {
  reducer_->expect_rows(table, ids);
}

DataParallel::Agreed DataParallel::accumulate(
    size_t n, const std::function<Part(size_t)>& part, bool stop_here) {
  double local = 0;
  Agreed agreed;
  reducer_->set_require_sync(false);
  for (size_t j = 0; j < n; ++j) {
    Part p = part(j);
    local += p.value;
    if (j + 1 == n) {
      // The all-reduce also absorbs the ranks' forward imbalance, so it
      // counts as communication.
      auto both = at::empty({2}, at::kDouble);
      both.data_ptr<double>()[0] = local;
      both.data_ptr<double>()[1] = stop_here ? 1.0 : 0.0;
      const auto start = std::chrono::steady_clock::now();
      group_.allreduce_sum(both);
      comm_wait_s_ += std::chrono::duration<double>(
                          std::chrono::steady_clock::now() - start)
                          .count();
      agreed.loss = both.data_ptr<double>()[0];
      agreed.stop = both.data_ptr<double>()[1] > 0;
      if (!std::isfinite(agreed.loss)) return agreed;
      reducer_->set_require_sync(true);
    }
    if (p.loss.defined()) p.loss.backward();
  }
  return agreed;
}

void DataParallel::finish() {
  reducer_->finish();
  comm_wait_s_ += reducer_->last_wait_s();
}

void DataParallel::finish(
    const std::function<void(const at::Tensor&)>& update) {
  reducer_->finish([&](const std::vector<at::Tensor>& reduced) {
    for (const auto& p : reduced) update(p);
  });
  comm_wait_s_ += reducer_->last_wait_s();
}

void DataParallel::log_stats(
    std::FILE* log,
    int64_t steps,
    double session_s,
    int64_t micro_batches) const {
  const double per_step = session_s / static_cast<double>(steps);
  const double wait = comm_wait_s_ / static_cast<double>(steps);
  fmt::print(
      log,
      "distributed: gradient all-reduce wait {:.1f} ms/step of {:.1f} "
      "ms/step ({:.1f}%)\n",
      1e3 * wait,
      1e3 * per_step,
      100 * wait / per_step);
  // One all-reduce per bucket and optimizer step, however many
  // micro-batches the step sums.
  const auto stats = reducer_->stats();
  fmt::print(
      log,
      "distributed: {} bucket all-reduces in {} optimizer steps ({} buckets, "
      "{} micro-batches a step)\n",
      stats.allreduces,
      stats.steps,
      stats.buckets.size(),
      micro_batches);
  // Where the wait comes from, bucket by bucket (backward fills them in
  // this order).
  for (size_t k = 0; k < stats.buckets.size(); ++k) {
    const auto& b = stats.buckets[k];
    fmt::print(
        log,
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

}  // namespace ember::dist
