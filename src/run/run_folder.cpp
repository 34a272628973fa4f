#include "ember/run/run_folder.hpp"

#include <system_error>
#include <utility>

#include <fmt/core.h>
#include <unistd.h>

#include <ember/util/error.hpp>

namespace ember {

namespace fs = std::filesystem;

RunFolder::RunFolder(std::string dir) : dir_(std::move(dir)), path_(dir_) {}

void RunFolder::probe() const {
  fs::path probe = path_;
  std::error_code ec;
  while (!probe.empty() && !fs::exists(probe, ec)) probe = probe.parent_path();
  if (probe.empty()) probe = ".";
  if (!fs::is_directory(probe, ec)) {
    throw Error(
        fmt::format("run.dir {}: {} is not a folder", dir_, probe.string()));
  }
  if (::access(probe.c_str(), W_OK) != 0) {
    throw Error(fmt::format(
        "run.dir {}: {} is not writable; hint: choose another run.dir",
        dir_,
        probe.string()));
  }
}

RunLock RunFolder::claim(RunLock held, bool fresh, std::FILE* log) const {
  RunLock lock = std::move(held);
  if (!lock.held()) lock = RunLock::acquire(path_, dir_, RunLock::kIfPossible);
  // The lock file moves aside with the earlier run; the new folder gets
  // its own before the old one is released.
  const bool moved = fresh && move_earlier_run_aside(log);
  create();
  if (moved || !lock.held())
    lock = RunLock::acquire(path_, dir_, RunLock::kRequired);
  remove_interrupted_saves();
  return lock;
}

// A fresh run never destroys an earlier one: a run.dir that already holds a
// run is moved aside to the first free <run.dir>.N sibling. True if moved.
bool RunFolder::move_earlier_run_aside(std::FILE* log) const {
  std::error_code ec;
  const bool had_run = fs::exists(checkpoint(), ec) ||
                       fs::exists(metrics(), ec) || fs::exists(config(), ec);
  if (!had_run) return false;
  fs::path base = path_;
  if (!base.has_filename()) base = base.parent_path();
  fs::path aside;
  for (int n = 1;; ++n) {
    aside = base;
    aside += "." + std::to_string(n);
    if (!fs::exists(aside, ec)) break;
  }
  fs::rename(base, aside, ec);
  if (ec) {
    throw Error(fmt::format(
        "run.dir {}: holds an earlier run that cannot be moved aside to {} "
        "({}); hint: use --resume {} or another run.dir",
        dir_,
        aside.string(),
        ec.message(),
        dir_));
  }
  fmt::print(
      log,
      "note: {} held an earlier run; moved it to {} (use --resume {} to "
      "continue a run instead)\n",
      dir_,
      aside.string(),
      dir_);
  return true;
}

void RunFolder::create() const {
  std::error_code ec;
  fs::create_directories(path_, ec);
  if (ec) {
    throw Error(fmt::format(
        "run.dir {}: cannot create the folder ({})", dir_, ec.message()));
  }
}

// Temp files of saves that a kill interrupted (checkpoint.pt.tmp.<pid>).
void RunFolder::remove_interrupted_saves() const {
  for (const auto& entry : fs::directory_iterator(path_)) {
    if (entry.path().filename().string().rfind("checkpoint.pt.tmp.", 0) == 0) {
      std::error_code ignored;
      fs::remove(entry.path(), ignored);
    }
  }
}

}  // namespace ember
