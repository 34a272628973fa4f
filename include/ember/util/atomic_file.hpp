// The one atomic-file writer: a temporary file beside the target
// (`<path>.tmp.<pid>`) is written (buffered, streaming), fsynced, renamed over
// the target, and the folder is fsynced so the rename itself survives a crash
// (rename(2)'s atomic replace; fsync(2): syncing a file does not sync its
// directory entry). Leaves out locking and copying the old file's mode.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace ember {

/// Writes a file that appears whole at `path` on commit(), or not at all: a
/// failure (disk full, permission) or a destruction before commit() removes
/// the temporary file and leaves what was at `path` untouched. Errors throw
/// ember::Error with the message `describe` makes, by default
/// "write <path>: <errno_text(err)>".
///   AtomicFile f("run/metrics.jsonl");
///   f.write("{...}\n");
///   f.commit();  // run/metrics.jsonl replaced, durably
class AtomicFile {
 public:
  /// The step that failed, for the caller's message.
  enum class Step { kOpen, kWrite, kSync, kClose, kRename };
  /// Message of the Error thrown when `step` fails with errno `err`.
  using Describe = std::function<std::string(Step step, int err)>;

  /// Creates `<path>.tmp.<pid>` with `mode` (less the umask). Throws
  /// Error(describe(kOpen, errno)).
  explicit AtomicFile(
      std::string path, Describe describe = {}, unsigned mode = 0644);
  /// Before commit(): closes and removes the temporary file.
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  /// Appends `n` bytes (through a 64 KiB buffer; larger writes go straight
  /// to the file). Throws Error(describe(kWrite, errno)), the temporary file
  /// removed.
  void write(const void* data, size_t n);
  void write(std::string_view data) {
    write(data.data(), data.size());
  }
  /// Overwrites `n` bytes at `offset`, which were written before (a header
  /// whose fields are known only at the end). Throws as write().
  void write_at(uint64_t offset, const void* data, size_t n);
  /// write() that never throws, for a writer called from code that must not
  /// see an exception (LibTorch's save_to): the first failure is kept, later
  /// writes are skipped, and commit() throws it (as kWrite). False once
  /// failed.
  bool try_write(const void* data, size_t n) noexcept;
  /// Flushes, fsyncs, closes, renames over `path`, fsyncs the folder (a
  /// failure there is ignored: the file is in place). Throws
  /// Error(describe(step, errno)) with the temporary file removed.
  void commit();

  const std::string& path() const {
    return path_;
  }

 private:
  bool flush_buffer() noexcept;
  bool write_all(const void* data, size_t n) noexcept;
  [[noreturn]] void fail(Step step, int err);

  std::string path_;
  std::string tmp_;
  Describe describe_;
  int fd_ = -1;    // -1 once committed or failed
  int error_ = 0;  // first failure of try_write, errno
  std::unique_ptr<char[]> buffer_;
  size_t buffered_ = 0;
};

}  // namespace ember
