#include "ember/run/run_lock.hpp"

#include <cerrno>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/file.h>
#include <unistd.h>

#include <ember/util/error.hpp>

namespace ember {
namespace {

// The pid a holder wrote, or "unknown" (it may not have written it yet).
std::string holder_pid(int fd) {
  char buf[32] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  std::string text(buf, n > 0 ? static_cast<size_t>(n) : 0);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
    text.pop_back();
  const bool digits = !text.empty() &&
                      text.find_first_not_of("0123456789") == std::string::npos;
  return digits ? text : "unknown";
}

void write_pid(int fd) {
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) == 0) {
    // The pid is for messages only; a failed write leaves "pid unknown".
    [[maybe_unused]] const ssize_t n = ::pwrite(fd, pid.data(), pid.size(), 0);
  }
}

}  // namespace

RunLock::RunLock(RunLock&& other) noexcept : fd_(other.fd_) {
  other.fd_ = -1;
}

RunLock& RunLock::operator=(RunLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);
}

RunLock RunLock::acquire(
    const std::filesystem::path& folder,
    const std::string& run_dir,
    Mode mode) {
  const std::string path = (folder / ".lock").string();
  const int create = mode == kExisting ? 0 : O_CREAT;
  const int fd = ::open(path.c_str(), O_RDWR | create | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (mode != kRequired) return RunLock();
    throw Error(fmt::format(
        "run.dir {}: cannot create the lock file {} ({})",
        run_dir,
        path,
        std::strerror(errno)));
  }
  RunLock lock(fd);
  int rc = 0;
  do {
    rc = ::flock(fd, LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    if (errno == EWOULDBLOCK) {
      throw Error(fmt::format(
          "run.dir {}: in use by another ember run (pid {}); hint: wait for "
          "it to finish, or choose another run.dir",
          run_dir,
          holder_pid(fd)));
    }
    throw Error(fmt::format(
        "run.dir {}: cannot lock {} ({})",
        run_dir,
        path,
        std::strerror(errno)));
  }
  write_pid(fd);
  return lock;
}

}  // namespace ember
