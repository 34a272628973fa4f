// A worker for the multi-process tests of ember::dist (tests/cli/dist_*.sh):
// started once per rank with torchrun's environment (RANK, WORLD_SIZE,
// MASTER_ADDR, MASTER_PORT).
//   dist_worker collectives  broadcast, all-reduce, GradientReducer: exit 0
//                            when every check holds, 1 with a message if not
//   dist_worker row-sparse   GradientReducer's row-sparse path against its
//                            dense path and the closed form, for random ids
//   dist_worker die-rank1    rank 1 exits at once after joining; rank 0 then
//                            all-reduces and must fail (exit 3) in time
//   dist_worker compare A B TOL
//                            (no launcher) the model tensors of checkpoints
//                            A and B agree within TOL: exit 0, else 1
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <fmt/core.h>

#include <ember/checkpoint/checkpoint.hpp>
#include <ember/dist/gradient_reducer.hpp>
#include <ember/util/error.hpp>

namespace {

int fail(const std::string& what) {
  fmt::print(stderr, "dist_worker: {}\n", what);
  return 1;
}

int collectives(ember::dist::ProcessGroup& pg) {
  const int r = pg.rank();
  const int w = pg.size();
  // broadcast: every rank ends with rank 0's values.
  std::vector<at::Tensor> t{at::full({3}, static_cast<double>(r + 10))};
  pg.broadcast(t, 0);
  if (!at::equal(t[0], at::full({3}, 10.0))) return fail("broadcast");
  // all-reduce of scalars and tensors.
  const double sum = pg.allreduce_sum(static_cast<double>(r + 1));
  if (sum != w * (w + 1) / 2.0) return fail(fmt::format("sum {}", sum));
  // GradientReducer: y = sum(a * x_r) + sum(b^2) with rank-specific x_r; the
  // averaged gradients are known in closed form. Tiny buckets force several.
  at::Tensor a = at::ones({5}, at::kDouble).requires_grad_(true);
  at::Tensor b = at::full({4}, 2.0, at::kDouble).requires_grad_(true);
  at::Tensor c = at::ones({2}, at::kDouble).requires_grad_(true);  // no grad
  ember::dist::GradientReducer reducer(pg, {a, b, c}, 16);
  if (reducer.num_buckets() < 2) return fail("expected several buckets");
  for (int step = 0; step < 3; ++step) {
    at::Tensor x = at::arange(5, at::kDouble) * (r + 1) * (step + 1);
    at::Tensor y = (a * x).sum() + (b * b).sum();
    y.backward();
    if (step == 1) {
      // The callback form: every parameter once, already averaged.
      std::vector<std::pair<at::Tensor, at::Tensor>> seen;  // param, grad then
      reducer.finish([&](const std::vector<at::Tensor>& reduced) {
        for (const auto& p : reduced) seen.emplace_back(p, p.grad().clone());
      });
      if (seen.size() != 3) return fail("on_reduced: not each parameter once");
      for (const at::Tensor& p : {a, b, c}) {
        int times = 0;
        for (const auto& [q, g] : seen) {
          if (q.unsafeGetTensorImpl() != p.unsafeGetTensorImpl()) continue;
          ++times;
          if (!at::equal(g, p.grad())) return fail("on_reduced: early grad");
        }
        if (times != 1) return fail("on_reduced: a parameter not once");
      }
    } else {
      reducer.finish();
    }
    // d/da = x_r averaged over ranks = arange(5) * (step+1) * mean(r+1).
    const double mean_scale = (w + 1) / 2.0;
    at::Tensor ga = at::arange(5, at::kDouble) * (step + 1) * mean_scale;
    if (!at::allclose(a.grad(), ga)) return fail("gradient of a");
    if (!at::allclose(b.grad(), at::full({4}, 4.0, at::kDouble))) {
      return fail("gradient of b");
    }
    if (!at::equal(c.grad(), at::zeros({2}, at::kDouble))) {
      return fail("gradient of c");
    }
    a.mutable_grad().zero_();
    b.mutable_grad().zero_();
  }
  pg.barrier();
  return 0;
}

// One rank's lookups in one trial: ids into a (V, D) table and the weight
// of each looked-up row in the loss sum(coef * table[ids]). Drawn from
// (trial, rank), so every rank knows every rank's draw.
struct Lookups {
  std::vector<int64_t> ids;
  std::vector<float> coef;  // ids.size() x D
};
Lookups draw(int trial, int rank, int64_t V, int64_t D) {
  std::mt19937 gen(static_cast<unsigned>(1000 * trial + rank));
  // Few rows (sparse), many with repeats, or none at all (an empty batch).
  const int64_t max_ids = trial % 3 == 0 ? 4 : (trial % 3 == 1 ? 40 : 400);
  const int64_t n = std::uniform_int_distribution<int64_t>(
      rank == 1 && trial == 2 ? 0 : 1, max_ids)(gen);
  std::uniform_int_distribution<int64_t> id(0, trial % 2 == 0 ? V - 1 : 9);
  std::uniform_real_distribution<float> c(-1.0f, 1.0f);
  Lookups l;
  for (int64_t j = 0; j < n; ++j) l.ids.push_back(id(gen));
  for (int64_t j = 0; j < n * D; ++j) l.coef.push_back(c(gen));
  return l;
}

// The row-sparse all-reduce gives the same gradient bits as the dense one
// (2 ranks: a + b either way), and the closed form: the mean over ranks of
// the scatter-added coefficients. Also with a rank that skips backward, with
// a table also used densely (tied: kept dense), and with the misuse errors.
int row_sparse(ember::dist::ProcessGroup& pg) {
  const int r = pg.rank();
  const int w = pg.size();
  const int64_t V = 1000;
  const int64_t D = 7;
  const auto f = at::TensorOptions().dtype(at::kFloat);
  at::Tensor init = at::randn({V, D}, f);
  std::vector<at::Tensor> same{init};
  pg.broadcast(same, 0);
  at::Tensor dense = init.clone().requires_grad_(true);
  at::Tensor sparse = init.clone().requires_grad_(true);
  at::Tensor wd = at::ones({3}, f).requires_grad_(true);
  at::Tensor ws = at::ones({3}, f).requires_grad_(true);
  at::Tensor vd = at::ones({2}, f).requires_grad_(true);
  at::Tensor vs = at::ones({2}, f).requires_grad_(true);
  // 32-byte buckets: {v, w} share a flat bucket, the table has its own.
  ember::dist::GradientReducer by_rows(pg, {sparse, ws, vs}, 32, {sparse});
  ember::dist::GradientReducer whole(pg, {dense, wd, vd}, 32);
  if (by_rows.num_buckets() != 2 || whole.num_buckets() != 2) {
    return fail("bucket layout");
  }
  for (int trial = 0; trial < 12; ++trial) {
    const Lookups mine = draw(trial, r, V, D);
    const int64_t n = static_cast<int64_t>(mine.ids.size());
    at::Tensor ids = at::tensor(mine.ids, at::kLong);
    at::Tensor coef = at::tensor(mine.coef, f).view({n, D});
    // Rank 1 skips backward in trial 5: finish() reduces zeros for it.
    const bool skip = r == 1 && trial == 5;
    // What the gradients held before (kept every other trial): finish()
    // adds this step's average to it.
    const at::Tensor before = sparse.grad().defined()
                                  ? sparse.grad().to(at::kDouble)
                                  : at::zeros({V, D}, at::kDouble);
    const double w_before =
        ws.grad().defined() ? ws.grad()[0].item<double>() : 0;
    by_rows.expect_rows(sparse, ids);
    if (!skip) {
      // (n) -> (n, D)
      ((at::embedding(sparse, ids) * coef).sum() + (ws * (r + 1)).sum() +
       (vs * (r + 2)).sum())
          .backward();
      ((at::embedding(dense, ids) * coef).sum() + (wd * (r + 1)).sum() +
       (vd * (r + 2)).sum())
          .backward();
    }
    by_rows.finish();
    whole.finish();
    if (!at::equal(sparse.grad(), dense.grad())) {
      const double d =
          (sparse.grad() - dense.grad()).abs().max().item<double>();
      return fail(fmt::format(
          "trial {}: row-sparse differs from dense by {}", trial, d));
    }
    if (!at::equal(ws.grad(), wd.grad()) || !at::equal(vs.grad(), vd.grad())) {
      return fail("dense bucket differs");
    }
    // The flat bucket: w's gradient on rank q is q + 1.
    double w_expect = 0;
    for (int q = 0; q < w; ++q) {
      if (!(q == 1 && trial == 5)) w_expect += q + 1;
    }
    w_expect = w_before + w_expect / w;
    if (!at::allclose(ws.grad(), at::full({3}, w_expect, f))) {
      return fail(fmt::format("trial {}: flat bucket gradient", trial));
    }
    // The closed form, in double.
    at::Tensor expect = at::zeros({V, D}, at::kDouble);
    for (int q = 0; q < w; ++q) {
      if (q == 1 && trial == 5) continue;
      const Lookups l = draw(trial, q, V, D);
      const int64_t m = static_cast<int64_t>(l.ids.size());
      expect.index_add_(
          0,
          at::tensor(l.ids, at::kLong),
          at::tensor(l.coef, f).view({m, D}).to(at::kDouble));
    }
    expect.div_(w).add_(before);
    // float32 sums of up to 400 terms of size <= 1: 1e-5 absolute.
    if (!at::allclose(sparse.grad().to(at::kDouble), expect, 0, 1e-5)) {
      return fail(fmt::format("trial {}: row-sparse gradient is wrong", trial));
    }
    // Untouched rows are exactly what they were.
    at::Tensor untouched = (expect - before).abs().sum(1).eq(0).unsqueeze(1);
    if (!at::equal(
            sparse.grad().to(at::kDouble).masked_select(untouched),
            before.masked_select(untouched))) {
      return fail("untouched rows changed");
    }
    // Leave the gradients set (no zero_grad) every other trial, as gradient
    // accumulation does.
    if (trial % 2 == 1) {
      for (auto* t : {&sparse, &dense, &ws, &wd, &vs, &vd}) {
        t->mutable_grad() = at::Tensor();
      }
    }
  }
  // Tied: a table looked up and also used as an output head has a dense
  // gradient; kept dense, it matches the closed form.
  {
    at::Tensor tied = init.clone().requires_grad_(true);
    ember::dist::GradientReducer plain(pg, {tied}, 8);
    const Lookups mine = draw(7, r, V, D);
    at::Tensor h = at::embedding(tied, at::tensor(mine.ids, at::kLong));
    at::matmul(h, tied.t()).sum().backward();  // (n, D) x (D, V)
    plain.finish();
    at::Tensor expect = at::zeros({V, D}, at::kDouble);
    const at::Tensor t64 = init.to(at::kDouble);
    for (int q = 0; q < w; ++q) {
      const Lookups l = draw(7, q, V, D);
      at::Tensor lid = at::tensor(l.ids, at::kLong);
      at::Tensor hq = t64.index_select(0, lid);  // (n, D)
      // d/dtied of sum(h tied^T): column sums of h for every row, plus the
      // row sums of tied^T's columns scattered to the looked-up rows.
      expect += hq.sum(0).expand({V, D});
      expect.index_add_(
          0, lid, t64.sum(0).expand({lid.size(0), D}).contiguous());
    }
    expect.div_(w);
    // float32 sums of ~1000 terms of size ~1: 1e-4 relative.
    if (!at::allclose(tied.grad().to(at::kDouble), expect, 1e-4, 1e-3)) {
      return fail("tied table gradient is wrong");
    }
  }
  // Misuse is an error, not a silent wrong answer.
  try {
    by_rows.expect_rows(ws, at::zeros({1}, at::kLong));
    return fail("expect_rows accepted a dense parameter");
  } catch (const ember::Error&) {
  }
  try {
    ember::dist::GradientReducer bad(pg, {wd}, 8, {sparse});
    return fail("a row-sparse tensor outside params was accepted");
  } catch (const ember::Error&) {
  }
  pg.barrier();
  return 0;
}

int die_rank1(ember::dist::ProcessGroup& pg) {
  pg.barrier();
  if (pg.rank() == 1) std::_Exit(0);
  const auto start = std::chrono::steady_clock::now();
  try {
    for (int i = 0; i < 100; ++i) pg.allreduce_sum(1.0);
  } catch (const ember::Error& e) {
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    fmt::print(stderr, "rank 0 failed after {:.1f} s: {}\n", s, e.what());
    return 3;
  }
  return fail("rank 0: all-reduce succeeded although rank 1 is gone");
}

int compare(const std::string& a_path, const std::string& b_path, double tol) {
  const auto a = ember::load_checkpoint(a_path);
  const auto b = ember::load_checkpoint(b_path);
  if (a.model.size() != b.model.size()) return fail("different tensor counts");
  if (a.model.empty()) return fail("no model tensors");
  double worst = 0;
  for (size_t i = 0; i < a.model.size(); ++i) {
    const auto& [name, ta] = a.model[i];
    const auto& tb = b.model[i].second;
    if (name != b.model[i].first) return fail("different names");
    if (ta.sizes() != tb.sizes()) return fail(name + ": different shapes");
    if (ta.numel() == 0) continue;
    const double d =
        (ta.to(at::kDouble) - tb.to(at::kDouble)).abs().max().item<double>();
    // A NaN or inf in either fails here: std::max(worst, NaN) keeps worst,
    // so the NaN would never reach the tolerance check below.
    if (!std::isfinite(d)) {
      return fail(
          fmt::format("{}: not finite (largest difference {})", name, d));
    }
    worst = std::max(worst, d);
  }
  fmt::print("largest weight difference {:.3g} (tolerance {:g})\n", worst, tol);
  if (a.step != b.step) return fail("different steps");
  if (!(worst <= tol)) {
    return fail(fmt::format(
        "largest weight difference {:.3g} (expected <= {:g})", worst, tol));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "collectives";
  try {
    if (mode == "compare" && argc == 5) {
      return compare(argv[2], argv[3], std::stod(argv[4]));
    }
    const auto env = ember::dist::LaunchEnv::from_env();
    if (env.world_size < 2) return fail("needs WORLD_SIZE >= 2");
    ember::dist::ProcessGroup pg(env, "gloo", std::chrono::seconds(20));
    if (mode == "die-rank1") return die_rank1(pg);
    if (mode == "collectives") return collectives(pg);
    if (mode == "row-sparse") return row_sparse(pg);
    return fail("unknown mode " + mode);
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}
