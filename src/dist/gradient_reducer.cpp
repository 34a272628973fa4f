#include "ember/dist/gradient_reducer.hpp"

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>
#include <utility>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <fmt/core.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <ember/util/error.hpp>

namespace ember::dist {

// Notes (default config, 2 Gloo ranks on loopback, 1 thread each, on the
// project's 2-core machine under load 7 to 10; bench/README.md has the runs):
// - Profile of the first version: the output head's 51.5 MB bucket waited
//   112 ms/step, the token table's 51.5 MB bucket 13 ms, of a 156 ms wait;
//   backward had only 54 ms left after the first gradient to hide them, 15 ms
//   of it spent copying the head's gradient into its bucket.
// - The token table is row-sparse (an embedding lookup): only the union of
//   the ranks' ids is summed, ~270 rows (0.28 MB) at batch 2 x 256 tokens.
//   Agreeing on the union costs a (V) int32 mask all-reduce, started before
//   the forward. Summing the chosen rows with the same all-reduce keeps the
//   dense path's bits on 2 ranks (a + b).
// - Hooks run after AccumulateGrad, so a one-tensor bucket is reduced in
//   .grad() in place: no 51 MB copy in (in backward) nor out (in finish).
// - What is left is the output head's dense 51.5 MB all-reduce, launched as
//   soon as its gradient exists with ~18 ms of backward after it.

namespace {
// Calls `fn` after an AccumulateGrad node ran. Not LibTorch's LambdaPostHook:
// its header pulls in compiled autograd (dynamo) in LibTorch 2.x.
class PostAccumulateHook : public torch::autograd::FunctionPostHook {
 public:
  explicit PostAccumulateHook(std::function<void()> fn) : fn_(std::move(fn)) {}
  torch::autograd::variable_list operator()(
      const torch::autograd::variable_list& outputs,
      const torch::autograd::variable_list& /*inputs*/) override {
    fn_();
    return outputs;
  }

 private:
  std::function<void()> fn_;
};
}  // namespace

struct GradientReducer::Impl {
  using Clock = std::chrono::steady_clock;
  struct Slot {
    at::Tensor param;
    size_t bucket = 0;
    int64_t offset = 0;  // in elements, within the bucket buffer
    bool ready = false;
    // The parameter's AccumulateGrad node (a leaf holds it only weakly) and
    // the key of our post-hook on it.
    std::shared_ptr<torch::autograd::Node> accumulator;
    uintptr_t hook_key = 0;
  };
  struct Bucket {
    // Several tensors: flat, their dtype and device, allocated once.
    // One dense tensor: its .grad() itself, reduced in place (no copy).
    // Row-sparse: (rows of the union, D), made each step.
    at::Tensor buffer;
    bool in_place = false;  // buffer is the one parameter's .grad()
    std::vector<size_t> slots;
    size_t num_ready = 0;
    bool ready = false;  // every gradient in, waiting for its turn
    std::unique_ptr<ProcessGroup::Pending> pending;
    // Row-sparse buckets hold one (V, D) parameter.
    bool row_sparse = false;
    at::Tensor mask;  // (V) int32: ranks whose ids touch the row (summed)
    std::unique_ptr<ProcessGroup::Pending> mask_pending;
    bool rows_expected = false;  // expect_rows() called this step
    at::Tensor rows;             // (U) int64, ascending: the union
    // Sums over steps, for stats().
    double sent_bytes = 0;
    double ready_s = 0;
    double wait_s = 0;
  };

  ProcessGroup* group = nullptr;
  std::vector<Slot> slots;
  std::vector<Bucket> buckets;
  size_t next_launch = 0;  // buckets before it are launched, in order
  double last_wait_s = 0.0;
  Clock::time_point first_grad;
  bool seen_grad = false;
  int64_t steps = 0;
  int64_t launches = 0;
  double backward_s = 0;
  bool sync = true;  // set_require_sync()

  // Collectives pair up by their order on each rank, and the order of the
  // hooks need not be the bucket order (nor the same on a rank that had no
  // backward), so buckets are launched strictly in bucket order, as DDP's
  // reducer does: a ready bucket waits for the ones before it.
  void launch_ready() {
    while (next_launch < buckets.size() && buckets[next_launch].ready) {
      launch(buckets[next_launch++]);
    }
  }

  void launch(Bucket& b) {
    b.ready_s +=
        std::chrono::duration<double>(Clock::now() - first_grad).count();
    b.sent_bytes += static_cast<double>(b.buffer.numel()) *
                    static_cast<double>(b.buffer.element_size());
    b.pending = group->allreduce_sum_async(b.buffer);
    ++launches;
  }

  size_t index_of(const Bucket& b) const {
    return static_cast<size_t>(&b - buckets.data());
  }

  // The union of the ranks' rows (waits for the mask all-reduce, which was
  // started before the forward and is normally long done).
  const at::Tensor& union_rows(Bucket& b) {
    if (!b.rows_expected) {
      throw Error(fmt::format(
          "GradientReducer: expect_rows() was not called this step for the "
          "row-sparse parameter of bucket {}",
          index_of(b)));
    }
    if (!b.rows.defined()) {
      b.mask_pending->wait();
      b.mask_pending.reset();
      // (V) -> (U, 1) -> (U), ascending
      b.rows = b.mask.nonzero().view({-1});
    }
    return b.rows;
  }

  // Where bucket b's all-reduce reads and writes: its flat buffer, filled
  // from each slot's .grad() (zeros for a missing one), or the one .grad()
  // itself, or the union's rows of it.
  void fill(Bucket& b) {
    const at::Tensor& first = slots[b.slots.front()].param;
    if (b.row_sparse) {
      const at::Tensor& rows = union_rows(b);
      // (V, D) -> (U, D)
      b.buffer =
          first.grad().defined()
              ? first.grad().index_select(0, rows)
              : at::zeros({rows.numel(), first.size(1)}, first.options());
      return;
    }
    if (b.slots.size() == 1 && first.grad().defined() &&
        first.grad().is_contiguous()) {
      b.in_place = true;
      b.buffer = first.grad().view({-1});
      return;
    }
    b.in_place = false;
    int64_t numel = 0;
    for (size_t j : b.slots) numel += slots[j].param.numel();
    if (!b.buffer.defined() || b.buffer.numel() != numel) {
      b.buffer = at::empty({numel}, first.options());
    }
    for (size_t j : b.slots) {
      const Slot& s = slots[j];
      at::Tensor part = b.buffer.narrow(0, s.offset, s.param.numel());
      if (s.param.grad().defined()) {
        part.copy_(s.param.grad().reshape({-1}));
      } else {
        part.zero_();
      }
    }
  }

  // Runs after the parameter's gradient was accumulated into .grad().
  void on_grad(size_t i) {
    if (!sync) return;  // accumulating: the gradient stays in .grad()
    if (!seen_grad) {
      seen_grad = true;
      first_grad = Clock::now();
    }
    Slot& s = slots[i];
    Bucket& b = buckets[s.bucket];
    if (s.ready) {
      throw Error(fmt::format(
          "GradientReducer: a second gradient for a parameter of bucket {} "
          "before finish()",
          index_of(b)));
    }
    s.ready = true;
    if (++b.num_ready < b.slots.size()) return;
    fill(b);
    b.ready = true;
    launch_ready();
  }

  // Writes the average back: bucket b's all-reduce is done.
  void write_back(Bucket& b, double world) {
    b.buffer.div_(world);
    Slot& first = slots[b.slots.front()];
    if (b.row_sparse) {
      at::Tensor& grad = first.param.mutable_grad();
      // No gradient on this rank: its other rows are zero, as on the others.
      if (!grad.defined()) grad = at::zeros_like(first.param);
      // Rows outside the union hold what they held before backward on every
      // rank (nothing, or the last average), so they are their own average.
      grad.index_copy_(0, b.rows, b.buffer);
      b.buffer = at::Tensor();
      b.rows = at::Tensor();
      b.rows_expected = false;
    } else if (b.in_place) {
      b.buffer = at::Tensor();  // the average is in .grad() already
    } else {
      for (size_t j : b.slots) {
        Slot& s = slots[j];
        at::Tensor avg =
            b.buffer.narrow(0, s.offset, s.param.numel()).view_as(s.param);
        if (s.param.grad().defined()) {
          s.param.mutable_grad().copy_(avg);
        } else {
          s.param.mutable_grad() = avg.clone();
        }
      }
    }
    for (size_t j : b.slots) slots[j].ready = false;
    b.num_ready = 0;
    b.ready = false;
  }
};

GradientReducer::GradientReducer(
    ProcessGroup& group,
    std::vector<at::Tensor> params,
    size_t bucket_bytes,
    std::vector<at::Tensor> row_sparse)
    : impl_(std::make_unique<Impl>()) {
  impl_->group = &group;
  auto same = [](const at::Tensor& a, const at::Tensor& b) {
    return a.unsafeGetTensorImpl() == b.unsafeGetTensorImpl();
  };
  for (const auto& r : row_sparse) {
    if (std::none_of(params.begin(), params.end(), [&](const auto& p) {
          return same(p, r);
        })) {
      throw Error("GradientReducer: a row-sparse tensor is not a parameter");
    }
    if (r.dim() != 2) {
      throw Error(fmt::format(
          "GradientReducer: a row-sparse parameter must be 2-D (got {}-D)",
          r.dim()));
    }
  }
  // Reverse order: backward reaches the last-registered layers first.
  std::reverse(params.begin(), params.end());
  size_t bucket_fill = 0;
  bool new_bucket = true;
  for (auto& p : params) {
    const size_t bytes = static_cast<size_t>(p.numel()) * p.element_size();
    const bool sparse =
        std::any_of(row_sparse.begin(), row_sparse.end(), [&](const auto& r) {
          return same(p, r);
        });
    if (new_bucket || sparse || bucket_fill + bytes > bucket_bytes) {
      impl_->buckets.emplace_back();
      bucket_fill = 0;
    }
    // A row-sparse parameter is alone in its bucket.
    impl_->buckets.back().row_sparse = sparse;
    new_bucket = sparse;
    Impl::Slot slot;
    slot.param = p;
    slot.bucket = impl_->buckets.size() - 1;
    slot.offset = 0;
    for (size_t j : impl_->buckets.back().slots) {
      slot.offset += impl_->slots[j].param.numel();
    }
    impl_->buckets.back().slots.push_back(impl_->slots.size());
    impl_->slots.push_back(slot);
    bucket_fill += bytes;
  }
  for (auto& b : impl_->buckets) {
    if (!b.row_sparse) continue;
    const auto& first = impl_->slots[b.slots.front()].param;
    b.mask = at::zeros({first.size(0)}, first.options().dtype(at::kInt));
  }
  // A hook after each parameter's AccumulateGrad, as DDP's reducer does: the
  // gradient is then in .grad(), and a bucket of one tensor is reduced there
  // in place (the 51 MB output head: no copy in, no copy out).
  Impl* impl = impl_.get();
  for (size_t i = 0; i < impl_->slots.size(); ++i) {
    auto& s = impl_->slots[i];
    TORCH_CHECK(
        s.param.requires_grad() && s.param.is_leaf(),
        "GradientReducer: parameters must be leaves that require grad");
    s.accumulator = torch::autograd::impl::grad_accumulator(s.param);
    s.hook_key = s.accumulator->add_post_hook(
        std::make_unique<PostAccumulateHook>([impl, i] { impl->on_grad(i); }));
  }
}

GradientReducer::~GradientReducer() {
  for (auto& s : impl_->slots) s.accumulator->del_post_hook(s.hook_key);
}

void GradientReducer::expect_rows(
    const at::Tensor& param, const at::Tensor& ids) {
  TORCH_CHECK(
      ids.scalar_type() == at::kLong,
      "GradientReducer::expect_rows: ids must be int64 (got ",
      ids.scalar_type(),
      ")");
  for (auto& b : impl_->buckets) {
    if (!b.row_sparse) continue;
    const at::Tensor& p = impl_->slots[b.slots.front()].param;
    if (p.unsafeGetTensorImpl() != param.unsafeGetTensorImpl()) continue;
    if (b.rows_expected) {
      throw Error(
          "GradientReducer::expect_rows: called twice for one parameter "
          "before finish()");
    }
    // The previous step's mask all-reduce was waited for in finish().
    b.mask.zero_();
    if (ids.numel() > 0) {
      b.mask.index_fill_(0, ids.reshape({-1}).to(b.mask.device()), 1);
    }
    b.mask_pending = impl_->group->allreduce_sum_async(b.mask);
    b.rows_expected = true;
    return;
  }
  throw Error(
      "GradientReducer::expect_rows: not a row-sparse parameter of this "
      "reducer");
}

void GradientReducer::finish(const OnReduced& on_reduced) {
  using Clock = Impl::Clock;
  const auto start = Clock::now();
  const double world = static_cast<double>(impl_->group->size());
  if (!impl_->seen_grad) impl_->first_grad = start;
  impl_->backward_s +=
      std::chrono::duration<double>(start - impl_->first_grad).count();
  impl_->seen_grad = false;
  ++impl_->steps;
  // The buckets not launched yet (a parameter without gradient this step),
  // in bucket order, with what .grad() holds or zeros.
  for (auto& b : impl_->buckets) {
    if (b.ready) continue;
    impl_->fill(b);
    b.ready = true;
  }
  impl_->launch_ready();
  impl_->next_launch = 0;
  double blocked_s = 0;
  auto take = [&](Impl::Bucket& b, Clock::time_point wait_start) {
    b.pending->wait();
    b.pending.reset();
    const double waited =
        std::chrono::duration<double>(Clock::now() - wait_start).count();
    b.wait_s += waited;
    blocked_s += waited;
    impl_->write_back(b, world);
    if (!on_reduced) return;
    std::vector<at::Tensor> params;
    params.reserve(b.slots.size());
    for (size_t j : b.slots) params.push_back(impl_->slots[j].param);
    on_reduced(params);
  };
  if (!on_reduced) {
    for (auto& b : impl_->buckets) take(b, Clock::now());
  } else {
    // Whichever bucket completes first (polled; time between polls counts
    // as blocked), each within the group's timeout.
    std::vector<ProcessGroup::Pending*> pending;
    for (auto& b : impl_->buckets) pending.push_back(b.pending.get());
    for (size_t left = pending.size(); left > 0; --left) {
      const auto wait_start = Clock::now();
      const size_t i = wait_any(pending, impl_->group->timeout());
      pending[i] = nullptr;
      take(impl_->buckets[i], wait_start);
    }
  }
  impl_->last_wait_s = blocked_s;
}

void GradientReducer::set_require_sync(bool sync) {
  impl_->sync = sync;
}

double GradientReducer::last_wait_s() const {
  return impl_->last_wait_s;
}

size_t GradientReducer::num_buckets() const {
  return impl_->buckets.size();
}

GradientReducer::Stats GradientReducer::stats() const {
  Stats out;
  out.steps = impl_->steps;
  out.allreduces = impl_->launches;
  const double n = static_cast<double>(std::max<int64_t>(impl_->steps, 1));
  out.backward_ms = 1e3 * impl_->backward_s / n;
  for (const auto& b : impl_->buckets) {
    BucketStats s;
    s.num_params = b.slots.size();
    s.row_sparse = b.row_sparse;
    s.mbytes = b.sent_bytes / n / 1e6;
    s.ready_ms = 1e3 * b.ready_s / n;
    s.wait_ms = 1e3 * b.wait_s / n;
    out.buckets.push_back(s);
  }
  return out;
}

}  // namespace ember::dist
