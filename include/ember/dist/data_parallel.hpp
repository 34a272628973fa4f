// The data-parallel step (DDP's role in a training loop): identical starting
// weights on every rank (a broadcast from rank 0), each rank's micro-batch
// losses with the step's global loss and stop flag agreed on before the last
// backward, accumulation as DDP's no_sync() (the micro-batches before the
// last only add to .grad()), and the gradients averaged by the bucketed
// all-reduce (gradient_reducer.hpp), with the optimizer updating each bucket
// as soon as it arrives. Knows nothing of models, data or optimizers: the
// trainer (src/train/data_parallel.cpp) gives it tensors and callbacks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <vector>

#include <ATen/core/Tensor.h>

#include <ember/dist/gradient_reducer.hpp>
#include <ember/dist/process_group.hpp>

namespace ember::dist {

class DataParallel {
 public:
  /// Broadcasts `state` (every weight and buffer, in the same order on every
  /// rank) from rank 0, then prepares the all-reduce of `params` (each
  /// trained tensor once), `row_sparse` ones by rows (GradientReducer).
  DataParallel(
      ProcessGroup& group,
      const std::vector<at::Tensor>& state,
      std::vector<at::Tensor> params,
      std::vector<at::Tensor> row_sparse = {});
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  /// The ids a row-sparse table looks up in this step's micro-batches on
  /// this rank (may be none); every rank calls it once per step, before
  /// accumulate().
  void expect_rows(const at::Tensor& table, const at::Tensor& ids);

  /// One micro-batch on this rank: the loss to backward (undefined when the
  /// rank has nothing of it), already scaled so that the ranks' averaged
  /// gradients sum to the step's, and its value's share of the step's
  /// global loss.
  struct Part {
    at::Tensor loss;
    double value = 0;
  };
  /// The ranks' summed loss value and whether any rank asked to stop.
  struct Agreed {
    double loss = 0;
    bool stop = false;
  };

  /// Runs `n` micro-batches: part(j) then its backward, in order. Before the
  /// last backward the ranks agree on the loss and the stop flag (one
  /// all-reduce of both). A non-finite agreed loss returns before the last
  /// backward, so that no rank reduces or updates anything.
  Agreed accumulate(
      size_t n, const std::function<Part(size_t)>& part, bool stop_here);

  /// Waits for every averaged gradient (clipping needs them all before any
  /// update).
  void finish();
  /// Calls `update` on each parameter as soon as its bucket's averaged
  /// gradients arrive, while the larger buckets are still on the wire.
  void finish(const std::function<void(const at::Tensor&)>& update);

  /// Seconds blocked in communication so far (the loss agreement and the
  /// gradient buckets).
  double comm_wait_s() const {
    return comm_wait_s_;
  }

  /// Lines on `log`: the wait per step against the step's time, the bucket
  /// all-reduces per optimizer step, and each bucket's share of the wait.
  void log_stats(
      std::FILE* log,
      int64_t steps,
      double session_s,
      int64_t micro_batches) const;

 private:
  ProcessGroup& group_;
  std::unique_ptr<GradientReducer> reducer_;
  double comm_wait_s_ = 0;
};

}  // namespace ember::dist
