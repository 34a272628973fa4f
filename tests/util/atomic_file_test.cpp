// AtomicFile: the file appears whole on commit or not at all. Write failures
// come from RLIMIT_FSIZE (EFBIG), which needs no disk to fill; a full disk
// is cli.train_disk_full.
#include <csignal>
#include <filesystem>
#include <string>

#include "temp_dir.hpp"
#include <catch2/catch.hpp>
#include <sys/resource.h>

#include <ember/util/atomic_file.hpp>
#include <ember/util/error.hpp>
#include <ember/util/io.hpp>

namespace {

// Names in `dir` that hold ".tmp.": temporary files left behind.
int num_temp_files(const std::filesystem::path& dir) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().filename().string().find(".tmp.") != std::string::npos) ++n;
  }
  return n;
}

// Files of this process may grow to `bytes` while it lives; over that, a
// write fails with EFBIG (SIGXFSZ ignored).
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    ::getrlimit(RLIMIT_FSIZE, &old_);
    rlimit lim = old_;
    lim.rlim_cur = bytes;
    ::setrlimit(RLIMIT_FSIZE, &lim);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &old_);
    std::signal(SIGXFSZ, old_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit old_{};
  void (*old_handler_)(int) = nullptr;
};

}  // namespace

TEST_CASE("AtomicFile: the file appears whole on commit", "[io]") {
  ember::test::TempDir dir("atomic_file");
  const std::string path = dir.file("out.bin");
  const std::string big(200000, 'x');  // larger than the 64 KiB buffer
  {
    ember::AtomicFile f(path);
    f.write("....");
    f.write("small");
    f.write(big);
    f.write("end");
    f.write_at(0, "HEAD", 4);  // a header known only at the end
    CHECK_FALSE(std::filesystem::exists(path));
    CHECK(num_temp_files(dir.path()) == 1);
    f.commit();
  }
  CHECK(ember::read_file(path) == "HEADsmall" + big + "end");
  CHECK(num_temp_files(dir.path()) == 0);
}

TEST_CASE("AtomicFile: without commit, the old file stays", "[io]") {
  ember::test::TempDir dir("atomic_file");
  const std::string path = dir.file("out.txt");
  ember::write_file_atomic(path, "old");
  {
    ember::AtomicFile f(path);
    f.write("new");
  }
  CHECK(ember::read_file(path) == "old");
  CHECK(num_temp_files(dir.path()) == 0);
}

TEST_CASE("AtomicFile: errors carry the caller's message", "[io]") {
  REQUIRE_THROWS_WITH(
      ember::AtomicFile("/nonexistent/dir/x"),
      "write /nonexistent/dir/x: no such file");
  REQUIRE_THROWS_WITH(
      ember::write_file_atomic("/nonexistent/dir/x", "data"),
      "write /nonexistent/dir/x: no such file");
  REQUIRE_THROWS_WITH(
      ember::AtomicFile(
          "/nonexistent/dir/x",
          [](ember::AtomicFile::Step step, int) {
            return step == ember::AtomicFile::Step::kOpen ? "open" : "other";
          }),
      "open");
}

TEST_CASE("AtomicFile: a failed write leaves the old file", "[io]") {
  ember::test::TempDir dir("atomic_file");
  const std::string path = dir.file("out.txt");
  ember::write_file_atomic(path, "old");
  const std::string big(1 << 20, 'x');
  {
    FileSizeLimit limit(100000);
    REQUIRE_THROWS_WITH(
        ember::write_file_atomic(path, big),
        "write " + path +
            ": File too large; the previous file, if any, is unchanged");
    // try_write keeps the failure for commit(), as a checkpoint's writer
    // inside LibTorch's save_to needs.
    ember::AtomicFile f(path);
    CHECK(f.try_write(big.data(), big.size()) == false);
    CHECK(f.try_write("x", 1) == false);
    REQUIRE_THROWS_WITH(f.commit(), "write " + path + ": File too large");
  }
  CHECK(ember::read_file(path) == "old");
  CHECK(num_temp_files(dir.path()) == 0);
}
