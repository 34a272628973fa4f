#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>

#include <fmt/core.h>
#include <sys/resource.h>

#include <ember/util/error.hpp>
#include <ember/util/memory_budget.hpp>

namespace ember {
namespace {

// A "Key:   123 kB" line of /proc/self/status or /proc/meminfo, in bytes.
bool read_kb_field(const char* file, const std::string& key, uint64_t& out) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size(), key) == 0 && line.size() > key.size() &&
        line[key.size()] == ':') {
      std::istringstream fields(line.substr(key.size() + 1));
      uint64_t kb = 0;
      if (fields >> kb) {
        out = kb * 1024;
        return true;
      }
    }
  }
  return false;
}

// The first number in a one-line file; false for "max" or no file.
bool read_number(const std::string& file, uint64_t& out) {
  std::ifstream in(file);
  std::string word;
  if (!(in >> word) || word == "max") return false;
  try {
    out = std::stoull(word);
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

// This process's cgroup v2 folder ("0::/path" in /proc/self/cgroup).
std::string cgroup_dir() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, 3, "0::") == 0) {
      return "/sys/fs/cgroup" + line.substr(3);
    }
  }
  return "";
}

void lower(MemoryBudget& b, uint64_t bytes, const char* limit) {
  if (bytes < b.bytes) {
    b.bytes = bytes;
    b.limit = limit;
  }
}

// Room left under a resource limit, given what is already used.
void lower_by_rlimit(
    MemoryBudget& b, int resource, const char* status_key, const char* limit) {
  rlimit rl{};
  if (::getrlimit(resource, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return;
  uint64_t used = 0;
  read_kb_field("/proc/self/status", status_key, used);
  const auto cap = static_cast<uint64_t>(rl.rlim_cur);
  lower(b, cap > used ? cap - used : 0, limit);
}

}  // namespace

MemoryBudget available_memory() {
  MemoryBudget b;
  uint64_t avail = 0;
  if (read_kb_field("/proc/meminfo", "MemAvailable", avail)) {
    lower(b, avail, "MemAvailable in /proc/meminfo");
  }
  lower_by_rlimit(b, RLIMIT_AS, "VmSize", "ulimit -v");
  lower_by_rlimit(b, RLIMIT_DATA, "VmData", "ulimit -d");
  const std::string dir = cgroup_dir();
  uint64_t max = 0;
  uint64_t current = 0;
  if (!dir.empty() && read_number(dir + "/memory.max", max)) {
    read_number(dir + "/memory.current", current);
    lower(b, max > current ? max - current : 0, "cgroup memory.max");
  }
  // cgroup v1, as a container sees its own group ("unlimited" is ~2^63).
  const std::string v1 = "/sys/fs/cgroup/memory/";
  if (read_number(v1 + "memory.limit_in_bytes", max)) {
    current = 0;
    read_number(v1 + "memory.usage_in_bytes", current);
    lower(b, max > current ? max - current : 0, "cgroup memory.limit_in_bytes");
  }
  return b;
}

uint64_t text_in_memory_bytes(uint64_t text_bytes) {
  const uint64_t tokens = text_bytes / 3 + 1;
  return std::max(2 * text_bytes, text_bytes + 24 * tokens);
}

std::string format_bytes(uint64_t bytes) {
  // Thresholds at the rounding point: 999,960,000 bytes is "1.0 GB".
  const auto v = static_cast<double>(bytes);
  if (v >= 999.95e6) return fmt::format("{:.1f} GB", v / 1e9);
  if (v >= 999.95e3) return fmt::format("{:.1f} MB", v / 1e6);
  if (v >= 1000) return fmt::format("{:.1f} KB", v / 1e3);
  return fmt::format("{} B", bytes);
}

void check_text_fits_memory(const std::string& path, const std::string& key) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const uint64_t size = fs::file_size(path, ec);
  if (ec) return;  // the read reports it, with its own message
  const uint64_t need = text_in_memory_bytes(size);
  const MemoryBudget budget = available_memory();
  if (need <= budget.bytes) return;
  fs::path bin(path);
  bin.replace_extension(".bin");
  throw Error(fmt::format(
      "{} {}: holding this {} text and its ids in memory needs about {}, more "
      "than the {} available ({}); hint: tokenize it once (ember tokenize "
      "--input {} --format bin16 --output {}) and use the token file instead",
      key,
      path,
      format_bytes(size),
      format_bytes(need),
      format_bytes(budget.bytes),
      budget.limit,
      path,
      bin.string()));
}

}  // namespace ember
