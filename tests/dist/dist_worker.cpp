// A worker for the multi-process tests of ember::dist (tests/cli/dist_*.sh):
// started once per rank with torchrun's environment (RANK, WORLD_SIZE,
// MASTER_ADDR, MASTER_PORT).
//   dist_worker collectives  broadcast, all-reduce, GradientReducer: exit 0
//                            when every check holds, 1 with a message if not
//   dist_worker die-rank1    rank 1 exits at once after joining; rank 0 then
//                            all-reduces and must fail (exit 3) in time
//   dist_worker compare A B TOL
//                            (no launcher) the model tensors of checkpoints
//                            A and B agree within TOL: exit 0, else 1
#include <chrono>
#include <cmath>
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <fmt/core.h>

#include <ember/checkpoint.hpp>
#include <ember/distributed.hpp>
#include <ember/error.hpp>

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
    reducer.finish();
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
  double worst = 0;
  for (size_t i = 0; i < a.model.size(); ++i) {
    if (a.model[i].first != b.model[i].first) return fail("different names");
    const double d = (a.model[i].second.to(at::kDouble) -
                      b.model[i].second.to(at::kDouble))
                         .abs()
                         .max()
                         .item<double>();
    worst = std::max(worst, d);
  }
  fmt::print("largest weight difference {:.3g} (tolerance {:g})\n", worst, tol);
  if (a.step != b.step) return fail("different steps");
  return worst <= tol ? 0 : 1;
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
    return fail("unknown mode " + mode);
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}
