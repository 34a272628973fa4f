// ember::dist pieces that need no second process: waiting for the first of
// several collectives, with a deadline. The multi-process behaviour is tested
// by tests/cli/dist_*.sh.
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <ember/dist/process_group.hpp>
#include <ember/util/error.hpp>

namespace {

using ember::dist::ProcessGroup;
using ember::dist::wait_any;
using namespace std::chrono_literals;

// A collective that finishes when `finished` is set (by the test or another
// thread); done() counts how often it was asked.
class FakePending : public ProcessGroup::Pending {
 public:
  std::atomic<bool> finished{false};
  std::atomic<int> polls{0};
  void wait() override {}
  bool done() override {
    ++polls;
    return finished.load();
  }
};

}  // namespace

TEST_CASE("wait_any: returns the collective that is done", "[dist]") {
  FakePending a, b, c;
  b.finished = true;
  CHECK(wait_any({&a, &b, &c}, 1s) == 1);
  c.finished = true;
  // the first done one in order, null entries skipped
  CHECK(wait_any({nullptr, &a, &c, &b}, 1s) == 2);
}

TEST_CASE("wait_any: waits for one that finishes later", "[dist]") {
  FakePending a, b;
  std::thread finisher([&] {
    std::this_thread::sleep_for(30ms);
    a.finished = true;
  });
  const auto start = std::chrono::steady_clock::now();
  const size_t i = wait_any({&a, &b}, 10s);
  const auto waited = std::chrono::steady_clock::now() - start;
  finisher.join();
  CHECK(i == 0);
  CHECK(waited >= 25ms);
  CHECK(waited < 5s);
  CHECK(a.polls > 1);  // polled, not asked once
}

TEST_CASE("wait_any: a collective that never finishes times out", "[dist]") {
  FakePending a, b;
  const auto start = std::chrono::steady_clock::now();
  REQUIRE_THROWS_MATCHES(
      wait_any({&a, &b}, 100ms, "all-reduce"),
      ember::Error,
      Catch::Message(
          "distributed all-reduce: none of 2 collectives finished within "
          "0.1 s; hint: another rank probably exited or stopped "
          "answering, see its log (the limit is train.dist_timeout_s)"));
  const auto waited = std::chrono::steady_clock::now() - start;
  CHECK(waited >= 100ms);
  CHECK(waited < 5s);
  REQUIRE_THROWS_WITH(
      wait_any({nullptr, &a}, 20ms, "broadcast"),
      Catch::StartsWith("distributed broadcast: the collective did not finish "
                        "within 0.02 s;"));
}

TEST_CASE("wait_any: nothing to wait for is a programming error", "[dist]") {
  CHECK_THROWS_AS(wait_any({}, 1s), std::invalid_argument);
  CHECK_THROWS_AS(wait_any({nullptr, nullptr}, 1s), std::invalid_argument);
}
