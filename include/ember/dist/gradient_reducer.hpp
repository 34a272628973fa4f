// DDP's bucketed gradient all-reduce (torch/csrc/distributed/c10d/
// reducer.cpp), much simplified: fixed bucket order, one process per device,
// no unused-parameter detection; plus row-sparse buckets for an embedding
// table. Runs on a ProcessGroup (process_group.hpp). The c10d and autograd
// headers stay inside gradient_reducer.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <ATen/core/Tensor.h>

#include <ember/dist/process_group.hpp>

namespace ember::dist {

/// Averages gradients across ranks after backward(), DDP-style: parameters
/// are packed into buckets of about `bucket_bytes` (in reverse registration
/// order, roughly the order backward produces them); a hook after each
/// parameter's gradient accumulation marks it ready and, once a bucket's
/// parameters are all ready, launches the bucket's asynchronous all-reduce
/// while backward goes on (buckets always start in bucket order, so that
/// every rank issues the same collectives in the same order). A bucket of one
/// tensor is reduced in its .grad() in place. finish() waits for the buckets
/// and leaves in each .grad() its average over ranks: what it held before
/// backward (nothing, or the last average: equal on every rank) plus the mean
/// of the ranks' gradients from this backward.
///
/// Row-sparse parameters (an embedding table (V, D) whose gradient is
/// non-zero only in the rows its ids looked up) get a bucket of their own and
/// send only rows: before backward each rank names its ids (expect_rows()),
/// the ranks sum a (V) mask of touched rows, and the table's all-reduce then
/// carries the union's rows only. The other rows are zero on every rank, so
/// their average is zero; the union's rows are summed by the same all-reduce
/// (on 2 ranks the same bits as the dense path; with more, the order in which
/// a row's values are added may differ, within float rounding).
class GradientReducer {
 public:
  /// `row_sparse` lists parameters of `params` (2-D) to reduce by rows; a
  /// tensor that is also used densely (a tied output head) must not be in it.
  /// Throws ember::Error for a row-sparse tensor not in `params` or not 2-D.
  GradientReducer(
      ProcessGroup& group,
      std::vector<at::Tensor> params,
      size_t bucket_bytes = size_t{4} << 20,
      std::vector<at::Tensor> row_sparse = {});
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  /// For a row-sparse `param`: the row ids (kLong, any shape, may be empty)
  /// whose gradient may be non-zero on this rank in the coming backward.
  /// Every rank calls it once per step for each row-sparse parameter, before
  /// backward (it starts the mask all-reduce, which overlaps the forward).
  /// Throws ember::Error for another tensor or a second call before finish().
  void expect_rows(const at::Tensor& param, const at::Tensor& ids);

  /// DDP's no_sync(): while `sync` is false, backward leaves each gradient
  /// in .grad() (summed over the backward passes, as autograd accumulates)
  /// and launches nothing; the first backward after set_require_sync(true)
  /// reduces those sums. Gradient accumulation turns it off for every
  /// micro-batch but the last, so a step costs one all-reduce per bucket
  /// however many micro-batches it sums. Default: true.
  void set_require_sync(bool sync);

  /// Called with a bucket's parameters as soon as their .grad() holds the
  /// average (for each bucket once per finish(), in the order the buckets'
  /// all-reduces complete).
  using OnReduced = std::function<void(const std::vector<at::Tensor>&)>;

  /// Waits for every bucket, divides by the world size, and sets each
  /// parameter's grad. Buckets whose hooks never fired (a parameter without
  /// gradient this step) are reduced here, with the grads as they are (zeros
  /// where undefined). With `on_reduced`, the buckets are taken as their
  /// all-reduces complete, and on_reduced runs for each while the others are
  /// still on the wire: an optimizer step per bucket overlaps the remaining
  /// communication (as torch's DDP optimizer-overlap hooks do). Throws
  /// ember::Error when a row-sparse parameter's expect_rows() was not called
  /// this step, when a parameter got two gradients (two backward passes)
  /// before finish(), or when a bucket's all-reduce failed or did not finish
  /// within the group's timeout.
  void finish(const OnReduced& on_reduced = nullptr);
  /// Seconds spent blocked in communication during the last finish() (time
  /// in on_reduced not included).
  double last_wait_s() const;
  size_t num_buckets() const;

  /// Where the wait comes from: per-bucket averages over the finish() calls
  /// so far, buckets in the order backward fills them.
  struct BucketStats {
    size_t num_params = 0;
    bool row_sparse = false;
    double mbytes = 0;    // all-reduced per step (row-sparse: union's rows)
    double ready_ms = 0;  // launched, after the step's first gradient
    double wait_ms = 0;   // blocked in finish() on this bucket
  };
  struct Stats {
    int64_t steps = 0;
    int64_t allreduces = 0;  // bucket all-reduces launched, all steps
    double backward_ms = 0;  // first gradient to finish()
    std::vector<BucketStats> buckets;
  };
  Stats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ember::dist
