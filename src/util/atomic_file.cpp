#include "ember/util/atomic_file.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <ember/util/error.hpp>
#include <ember/util/io.hpp>

namespace ember {
namespace {

constexpr size_t kBufferSize = size_t{1} << 16;

// The folder holding `path`, for syncing the rename.
std::string folder_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

AtomicFile::AtomicFile(std::string path, Describe describe, unsigned mode)
    : path_(std::move(path)),
      tmp_(fmt::format("{}.tmp.{}", path_, ::getpid())),
      describe_(std::move(describe)) {
  if (!describe_) {
    describe_ = [p = path_](Step, int err) {
      return fmt::format("write {}: {}", p, errno_text(err));
    };
  }
  fd_ = ::open(
      tmp_.c_str(),
      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
      static_cast<mode_t>(mode));
  if (fd_ < 0) throw Error(describe_(Step::kOpen, errno));
  buffer_ = std::make_unique<char[]>(kBufferSize);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_.c_str());
  }
}

bool AtomicFile::write_all(const void* data, size_t n) noexcept {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      error_ = errno;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool AtomicFile::flush_buffer() noexcept {
  const size_t n = std::exchange(buffered_, 0);
  return write_all(buffer_.get(), n);
}

bool AtomicFile::try_write(const void* data, size_t n) noexcept {
  if (fd_ < 0 || error_ != 0) return false;
  if (buffered_ + n > kBufferSize && !flush_buffer()) return false;
  if (n >= kBufferSize) return write_all(data, n);
  if (n > 0) std::memcpy(buffer_.get() + buffered_, data, n);
  buffered_ += n;
  return true;
}

void AtomicFile::write(const void* data, size_t n) {
  if (!try_write(data, n)) fail(Step::kWrite, error_ != 0 ? error_ : EBADF);
}

void AtomicFile::write_at(uint64_t offset, const void* data, size_t n) {
  if (fd_ < 0 || error_ != 0 || !flush_buffer()) {
    fail(Step::kWrite, error_ != 0 ? error_ : EBADF);
  }
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::pwrite(fd_, p, n, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      fail(Step::kWrite, errno);
    }
    p += w;
    n -= static_cast<size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
}

void AtomicFile::commit() {
  if (fd_ < 0 || error_ != 0 || !flush_buffer()) {
    fail(Step::kWrite, error_ != 0 ? error_ : EBADF);
  }
  if (::fsync(fd_) != 0) fail(Step::kSync, errno);
  if (::close(std::exchange(fd_, -1)) != 0) fail(Step::kClose, errno);
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    fail(Step::kRename, errno);
  }
  // Make the rename itself durable.
  const int dfd =
      ::open(folder_of(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

void AtomicFile::fail(Step step, int err) {
  const int fd = std::exchange(fd_, -1);
  if (fd >= 0) ::close(fd);
  ::unlink(tmp_.c_str());
  throw Error(describe_(step, err));
}

}  // namespace ember
