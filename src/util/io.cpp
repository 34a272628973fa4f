#include "ember/util/io.hpp"

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <fcntl.h>
#include <fmt/core.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ember/util/atomic_file.hpp>
#include <ember/util/build_config.hpp>
#include <ember/util/error.hpp>

namespace ember {

std::string errno_text(int err) {
  switch (err) {
    case ENOENT:
      return "no such file";
    case EACCES:
      return "permission denied";
    case EISDIR:
      return "is a directory, expected a file";
    case ENOSPC:
      return "no space left on device";
    default:
      return std::strerror(err);
  }
}

std::string read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw Error(fmt::format("read {}: {}", path, errno_text(errno)));
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw Error(fmt::format("read {}: {}", path, errno_text(EISDIR)));
  }
  std::string out;
  if (st.st_size > 0) out.reserve(static_cast<size_t>(st.st_size));
  std::array<char, 1 << 16> buf{};
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      throw Error(fmt::format("read {}: {}", path, errno_text(err)));
    }
    if (n == 0) break;
    out.append(buf.data(), static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

std::string read_file_or_stdin(const std::string& path) {
  if (path != "-") return read_file(path);
  std::string data;
  std::vector<char> buf(1 << 16);
  for (;;) {
    const size_t n = std::fread(buf.data(), 1, buf.size(), stdin);
    data.append(buf.data(), n);
    if (n < buf.size()) {
      if (std::ferror(stdin)) {
        throw Error(fmt::format("read <stdin>: {}", std::strerror(errno)));
      }
      break;
    }
  }
  return data;
}

void write_stdout(std::string_view data) {
  if (std::fwrite(data.data(), 1, data.size(), stdout) != data.size() ||
      std::fflush(stdout) != 0) {
    throw Error(fmt::format("write <stdout>: {}", std::strerror(errno)));
  }
}

void write_file_atomic(const std::string& path, std::string_view data) {
  write_file_atomic(path, std::vector<std::string_view>{data});
}

void write_file_atomic(
    const std::string& path, const std::vector<std::string_view>& pieces) {
  using Step = AtomicFile::Step;
  AtomicFile file(path, [&path](Step step, int err) {
    const bool unchanged = step == Step::kWrite || step == Step::kSync;
    return fmt::format(
        "write {}: {}{}",
        path,
        errno_text(err),
        unchanged ? "; the previous file, if any, is unchanged" : "");
  });
  for (const std::string_view data : pieces) file.write(data);
  file.commit();
}

std::string gpt2_vocab_dir() {
  if (const char* env = std::getenv("EMBER_GPT2_DIR"); env && *env) {
    return env;
  }
  return std::string(build::kDefaultDataDir) + "/gpt2";
}

// OpenSSL's libcrypto picks the CPU's SHA instructions when it has them.
std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) !=
      1) {
    throw Error("sha256_hex: openssl's EVP_Digest failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(2 * size_t{len}, '0');
  for (unsigned int i = 0; i < len; ++i) {
    hex[2 * i] = kHex[md[i] >> 4];
    hex[2 * i + 1] = kHex[md[i] & 15];
  }
  return hex;
}

bool remove_tree(const std::string& path) noexcept {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return errno == ENOENT;
  // Depth first, without following links: children before their folder.
  const int rc = ::nftw(
      path.c_str(),
      [](const char* p, const struct stat*, int, struct FTW*) {
        return ::remove(p) == 0 || errno == ENOENT ? 0 : -1;
      },
      16,
      FTW_DEPTH | FTW_PHYS);
  return rc == 0;
}

std::optional<size_t> find_invalid_utf8(std::string_view text) {
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    // ASCII fast path, 8 bytes at a time.
    while (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, s + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= n) break;
    const uint8_t b0 = s[i];
    if (b0 < 0x80) {
      ++i;
      continue;
    }
    const auto cont = [&](size_t k) {
      return i + k < n && (s[i + k] & 0xC0) == 0x80;
    };
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      if (!cont(1)) return i;
      i += 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      if (!cont(1) || !cont(2)) return i;
      if (b0 == 0xE0 && s[i + 1] < 0xA0) return i;  // overlong
      if (b0 == 0xED && s[i + 1] > 0x9F) return i;  // surrogate
      i += 3;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      if (!cont(1) || !cont(2) || !cont(3)) return i;
      if (b0 == 0xF0 && s[i + 1] < 0x90) return i;  // overlong
      if (b0 == 0xF4 && s[i + 1] > 0x8F) return i;  // > U+10FFFF
      i += 4;
    } else {
      return i;
    }
  }
  return std::nullopt;
}

}  // namespace ember
