// How much memory this process may still take, and an early, clear refusal
// of work that would need more (issue 7, issue 6 "Memory"): loading a whole
// text and its int64 ids fails with a message naming the file, the estimate
// and the fix instead of meeting the OOM killer or a bad_alloc halfway.
// Linux only (/proc, cgroups); elsewhere no limit is known. Plain C++17.
// Leaves out: swap, and memory other processes take later.
#pragma once

#include <cstdint>
#include <string>

namespace ember {

/// Bytes this process can still allocate, and which limit says so: the
/// smallest of MemAvailable (/proc/meminfo), RLIMIT_AS less the current
/// address space (`ulimit -v`), RLIMIT_DATA less the current data size
/// (`ulimit -d`) and the cgroup's limit less its usage (v2 memory.max, v1
/// memory.limit_in_bytes).
struct MemoryBudget {
  uint64_t bytes = UINT64_MAX;  ///< UINT64_MAX when nothing is known
  std::string limit;            ///< e.g. "ulimit -v"; empty when unknown
};

MemoryBudget available_memory();

/// Estimated peak bytes for holding a `text_bytes` text in memory with its
/// ids (what `ember train` and `ember batches` do with a text file): the
/// text twice while it is read, then the text plus 24 bytes per token (the
/// uint32 ids and their per-thread parts while encoding, the int64 tensor
/// and its copy), at one token per 3 bytes (English prose runs 4 to 5 bytes
/// per token, the mixed bench corpus 2.7). Measured: `ember batches` on the
/// 19.6 MB mixed.txt grows RSS by 164 MB (8.4x); this gives 9x.
uint64_t text_in_memory_bytes(uint64_t text_bytes);

/// Throws ember::Error when holding the text file `path` (of `key`, e.g.
/// "data.path", or "--input") in memory would need more than
/// available_memory():
///   "data.path big.txt: holding this 2.0 GB text and its ids in memory
///    needs about 11.3 GB, more than the 4.0 GB available (ulimit -v); hint:
///    tokenize it once (ember tokenize --input big.txt --format bin16
///    --output big.bin) and use the token file instead"
/// A file whose size cannot be read is left to the reader's own error.
void check_text_fits_memory(const std::string& path, const std::string& key);

/// "1.5 GB", "300.0 MB", "12.0 KB", "17 B" (powers of 1000, one decimal).
std::string format_bytes(uint64_t bytes);

}  // namespace ember
