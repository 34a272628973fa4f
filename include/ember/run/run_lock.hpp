// The run folder's lock (issue 13): one ember run at a time per run.dir. An
// exclusive flock(2) on <run.dir>/.lock, which holds the holder's pid as text;
// the kernel releases it when the process ends, however it ends, so a kill -9
// leaves nothing to clean up (the file stays; a lock is the flock, not the
// file). Mirrors nothing in the book. Leaves out: waiting for the holder, and
// NFS before Linux 2.6.12 (flock there is local to one machine).
#pragma once

#include <filesystem>
#include <string>

namespace ember {

/// A held lock on a run folder (or none); move-only. Destroying or
/// reassigning it releases the lock.
///
///   RunLock lock = RunLock::acquire("runs/x", "runs/x", RunLock::kRequired);
///   // a second process: throws "run.dir runs/x: in use by another ember run
///   // (pid 1234); hint: wait for it to finish, or choose another run.dir"
class RunLock {
 public:
  /// What to do when the lock file cannot be opened (folder absent, not
  /// writable): kExisting opens only a lock file that exists (a live run's
  /// always does) and creates nothing; kIfPossible creates it when it can;
  /// both give an empty RunLock otherwise, leaving the caller's own checks
  /// to name the problem. kRequired creates it or throws ember::Error.
  enum Mode { kExisting, kIfPossible, kRequired };

  RunLock() = default;
  RunLock(RunLock&& other) noexcept;
  RunLock& operator=(RunLock&& other) noexcept;
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  ~RunLock();

  /// Locks `folder`/.lock (creating the file per `mode`, never the folder)
  /// without waiting and writes this process's pid into it. `run_dir` names the
  /// folder in messages (run.dir as configured). Throws ember::Error when
  /// another process holds the lock, naming its pid (or "pid unknown"
  /// while the holder has not written it yet).
  static RunLock acquire(
      const std::filesystem::path& folder,
      const std::string& run_dir,
      Mode mode);

  bool held() const {
    return fd_ >= 0;
  }

 private:
  explicit RunLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace ember
