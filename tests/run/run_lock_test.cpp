// The run folder's lock (run_lock.hpp). flock(2) locks belong to an open file
// description, so a second acquire in this same process conflicts as another
// process would.
#include <filesystem>
#include <string>

#include "temp_dir.hpp"
#include <catch2/catch.hpp>
#include <unistd.h>

#include <ember/run/run_lock.hpp>
#include <ember/util/error.hpp>
#include <ember/util/io.hpp>

using ember::RunLock;

TEST_CASE(
    "RunLock: a held folder is refused, naming the holder's pid", "[train]") {
  ember::test::TempDir dir("run_lock");
  RunLock first = RunLock::acquire(dir.path(), "runs/x", RunLock::kRequired);
  REQUIRE(first.held());
  const std::string pid = std::to_string(::getpid());
  CHECK(ember::read_file(dir.file(".lock")) == pid + "\n");
  REQUIRE_THROWS_WITH(
      RunLock::acquire(dir.path(), "runs/x", RunLock::kRequired),
      "run.dir runs/x: in use by another ember run (pid " + pid +
          "); hint: wait for it to finish, or choose another run.dir");
  // kIfPossible refuses a held lock too: it only forgives a missing file.
  CHECK_THROWS_AS(
      RunLock::acquire(dir.path(), "runs/x", RunLock::kIfPossible),
      ember::Error);
  first = RunLock();  // released
  RunLock again = RunLock::acquire(dir.path(), "runs/x", RunLock::kRequired);
  CHECK(again.held());
  RunLock moved = std::move(again);
  CHECK(moved.held());
  CHECK_FALSE(again.held());  // NOLINT(bugprone-use-after-move): the point
}

TEST_CASE("RunLock: a missing folder is an empty lock or an error", "[train]") {
  ember::test::TempDir dir("run_lock");
  const auto missing = dir.path() / "no" / "such";
  CHECK_FALSE(RunLock::acquire(missing, "runs/y", RunLock::kIfPossible).held());
  REQUIRE_THROWS_WITH(
      RunLock::acquire(missing, "runs/y", RunLock::kRequired),
      "run.dir runs/y: cannot create the lock file " +
          (missing / ".lock").string() + " (No such file or directory)");
}

TEST_CASE("RunLock: kExisting creates no lock file", "[train]") {
  ember::test::TempDir dir("run_lock");
  CHECK_FALSE(
      RunLock::acquire(dir.path(), "runs/z", RunLock::kExisting).held());
  CHECK_FALSE(std::filesystem::exists(dir.path() / ".lock"));
  RunLock live = RunLock::acquire(dir.path(), "runs/z", RunLock::kIfPossible);
  CHECK_THROWS_WITH(
      RunLock::acquire(dir.path(), "runs/z", RunLock::kExisting),
      Catch::Contains("in use by another ember run"));
}
