// run/runtime.hpp: what prepare_runtime sets up from a config (threads,
// precision, TF32) and how a run's first line names the precision.
#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <catch2/catch.hpp>

#include <ember/run/runtime.hpp>
#include <ember/util/error.hpp>

TEST_CASE(
    "prepare_runtime: threads, precision, and TF32 only on CUDA", "[runtime]") {
  ember::Config c;
  c.train.runtime.device = "cpu";
  c.train.runtime.threads = 2;
  at::globalContext().setAllowTF32CuBLAS(true);  // a state it must reset
  const auto r = ember::prepare_runtime(c);
  CHECK(r.threads == 2);
  CHECK(at::get_num_threads() == 2);
  CHECK(r.precision == ember::Precision::fp32);
  // train.tf32 is on by default but means nothing on the CPU: full fp32.
  CHECK(c.train.runtime.tf32);
  CHECK_FALSE(r.tf32);
  CHECK_FALSE(at::globalContext().allowTF32CuBLAS());
  CHECK(ember::precision_label(r) == "fp32");
  ember::Runtime cuda = r;
  cuda.tf32 = true;
  CHECK(ember::precision_label(cuda) == "fp32 (tf32 products)");
  cuda.precision = ember::Precision::bf16;
  CHECK(ember::precision_label(cuda) == "bf16");
  c.train.runtime.precision = "fp16";
  CHECK_THROWS_AS(ember::prepare_runtime(c), ember::ConfigError);
}
