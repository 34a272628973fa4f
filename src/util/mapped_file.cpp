#include <algorithm>
#include <cerrno>

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ember/util/error.hpp>
#include <ember/util/io.hpp>
#include <ember/util/mapped_file.hpp>

namespace ember {

std::shared_ptr<const MappedFile> MappedFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(fmt::format("{}: {}", path, errno_text(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const int err = errno;
    ::close(fd);
    throw Error(fmt::format(
        "{}: {}",
        path,
        S_ISDIR(st.st_mode)   ? errno_text(EISDIR)
        : S_ISREG(st.st_mode) ? errno_text(err)
                              : std::string("not a regular file")));
  }
  const auto size = static_cast<size_t>(st.st_size);
  void* data = nullptr;
  if (size > 0) {
    data = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (data == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      throw Error(fmt::format("mmap {}: {}", path, errno_text(err)));
    }
  }
  ::close(fd);
  return std::shared_ptr<const MappedFile>(new MappedFile(path, data, size));
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(data_, size_);
}

void MappedFile::drop_pages(uint64_t offset, uint64_t n) const {
  const auto page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t first = (offset + page - 1) / page * page;
  const uint64_t last = std::min<uint64_t>(offset + n, size_) / page * page;
  if (data_ != nullptr && last > first) {
    ::madvise(
        static_cast<char*>(data_) + first,
        static_cast<size_t>(last - first),
        MADV_DONTNEED);
  }
}

void MappedFile::advise_random() const {
  if (data_ != nullptr) ::madvise(data_, size_, MADV_RANDOM);
}

}  // namespace ember
