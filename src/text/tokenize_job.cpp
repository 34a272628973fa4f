#include "ember/text/tokenize_job.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ember/text/token_file.hpp>
#include <ember/util/atomic_file.hpp>
#include <ember/util/error.hpp>
#include <ember/util/io.hpp>

namespace ember {
namespace {

using IdSink = std::function<void(const std::vector<TokenId>&)>;

std::string input_name(const std::string& path) {
  return path == "-" ? "<stdin>" : path;
}

// Appends decimal ids separated by single spaces; `first` tells whether a
// separator is due before the first one.
void append_ids(const std::vector<TokenId>& ids, bool first, std::string& out) {
  const size_t at = out.size();
  out.resize(at + ids.size() * 11);
  char* p = out.data() + at;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0 || !first) *p++ = ' ';
    char digits[10];
    int n = 0;
    TokenId v = ids[i];
    do {
      digits[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (n > 0) *p++ = digits[--n];
  }
  out.resize(static_cast<size_t>(p - out.data()));
}

// An open input; stdin for "-".
struct Input {
  explicit Input(const std::string& path) : name(input_name(path)) {
    if (path == "-") {
      file = stdin;
      return;
    }
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      throw Error(fmt::format("read {}: {}", path, errno_text(EISDIR)));
    }
    file = std::fopen(path.c_str(), "rb");
    if (file == nullptr) {
      throw Error(fmt::format("read {}: {}", path, errno_text(errno)));
    }
    owned = true;
  }
  ~Input() {
    if (owned) std::fclose(file);
  }
  Input(const Input&) = delete;
  Input& operator=(const Input&) = delete;
  std::string name;
  std::FILE* file = nullptr;
  bool owned = false;
};

// A one-line progress bar on stderr (when enabled: stderr is a terminal):
// bytes read, throughput and, when the total is known, percent and ETA.
class Progress {
 public:
  Progress(bool enabled, uint64_t total_bytes)
      : enabled_(enabled),
        total_(total_bytes),
        start_(Clock::now()),
        last_(start_) {}
  // `done`: bytes read so far over all inputs.
  void update(uint64_t done, bool force = false) {
    if (!enabled_) return;
    const auto now = Clock::now();
    if (!force && now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    const double s = seconds(now);
    const double rate = s > 0 ? static_cast<double>(done) / s : 0;
    std::string line;
    if (total_ > 0) {
      const double frac = std::min(
          1.0, static_cast<double>(done) / static_cast<double>(total_));
      const int fill = static_cast<int>(frac * 24);
      const double eta =
          rate > 0 ? static_cast<double>(total_ - std::min(done, total_)) / rate
                   : 0;
      line = fmt::format(
          "\rtokenize [{}{}] {:5.1f}% {:.1f}/{:.1f} MB {:.1f} MB/s ETA "
          "{:.0f}s\033[K",
          std::string(static_cast<size_t>(fill), '#'),
          std::string(static_cast<size_t>(24 - fill), '.'),
          100 * frac,
          static_cast<double>(done) / 1e6,
          static_cast<double>(total_) / 1e6,
          rate / 1e6,
          eta);
    } else {
      line = fmt::format(
          "\rtokenize {:.1f} MB {:.1f} MB/s\033[K",
          static_cast<double>(done) / 1e6,
          rate / 1e6);
    }
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
  }
  void finish(uint64_t bytes, uint64_t tokens) {
    if (!enabled_) return;
    const double s = seconds(Clock::now());
    fmt::print(
        stderr,
        "\rtokenize: {:.1f} MB, {} tokens in {:.1f} s ({:.1f} MB/s)\033[K\n",
        static_cast<double>(bytes) / 1e6,
        tokens,
        s,
        s > 0 ? static_cast<double>(bytes) / 1e6 / s : 0.0);
  }

 private:
  using Clock = std::chrono::steady_clock;
  double seconds(Clock::time_point now) const {
    return std::chrono::duration<double>(now - start_).count();
  }
  bool enabled_;
  uint64_t total_;
  Clock::time_point start_;
  Clock::time_point last_;
};

// Size of a regular file (stdin too, when redirected from one), else 0.
uint64_t regular_size(std::FILE* f) {
  struct stat st {};
  if (::fstat(::fileno(f), &st) == 0 && S_ISREG(st.st_mode)) {
    return static_cast<uint64_t>(st.st_size);
  }
  return 0;
}

// Encodes one input through `sink`; errors name the input and the byte
// offset in it. Returns the bytes read.
uint64_t encode_one(
    const Tokenizer& tok,
    const Input& in,
    const IdSink& sink,
    const AllowedSpecial& allowed,
    unsigned threads) {
  try {
    return tok.encode_stream(
        in.file, sink, allowed, Disallowed::kRaise, threads);
  } catch (const Utf8Error& e) {
    throw Utf8Error(
        fmt::format(
            "tokenize: {}: invalid utf-8 at byte {}; hint: the input must be "
            "UTF-8 text",
            in.name,
            e.offset()),
        e.offset());
  } catch (const DisallowedSpecialError& e) {
    throw TokenizerError(fmt::format(
        "tokenize: {}: the input contains the special token '{}' at byte {}, "
        "which is not allowed; hint: pass --allowed-special '{}' (or all) to "
        "encode it as its id, or remove it from the input",
        in.name,
        e.token(),
        e.offset(),
        e.token()));
  }
}

// Where each piece's ids go, and what closes the output. Everything streams
// except a token file to stdout, whose header (count, checksum) must come
// first.
class JobOutput {
 public:
  explicit JobOutput(const TokenizeJob& job)
      : to_stdout_(job.output.empty() || job.output == "-"),
        width_(job.format == TokenOutputFormat::kBin16 ? 16 : 32) {
    if (job.format == TokenOutputFormat::kIds) {
      text_ = true;
      if (!to_stdout_) {
        // Default mode: the umask decides, as for any new file.
        text_out_ = std::make_unique<AtomicFile>(
            job.output, AtomicFile::Describe{}, 0666);
      }
    } else if (!to_stdout_) {
      bin_out_ = std::make_unique<TokenFileWriter>(job.output, width_, "gpt2");
    }
  }
  void write(const std::vector<TokenId>& ids) {
    if (text_) {
      text_buf_.clear();
      append_ids(ids, first_, text_buf_);
      if (!ids.empty()) first_ = false;
      if (text_out_) {
        text_out_->write(text_buf_);
      } else {
        write_stdout(text_buf_);
      }
    } else if (bin_out_) {
      bin_out_->append(ids);
    } else {
      all_ids_.insert(all_ids_.end(), ids.begin(), ids.end());
    }
  }
  void finish() {
    if (text_) {
      if (text_out_) {
        text_out_->write("\n");
        text_out_->commit();
      } else {
        write_stdout("\n");
      }
    } else if (bin_out_) {
      bin_out_->finish();
    } else {
      write_stdout(encode_token_file(all_ids_, width_, "gpt2"));
    }
  }

 private:
  bool to_stdout_;
  uint32_t width_;
  bool text_ = false;
  bool first_ = true;  // no id written yet: no separator due
  std::string text_buf_;
  std::unique_ptr<AtomicFile> text_out_;  // --output, ids
  std::unique_ptr<TokenFileWriter> bin_out_;
  std::vector<TokenId> all_ids_;
};

}  // namespace

// Sorted by path, so the order never depends on the file system.
std::vector<std::string> expand_inputs(const std::vector<std::string>& inputs) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  for (const auto& in : inputs) {
    std::error_code ec;
    if (in == "-" || !fs::is_directory(in, ec)) {
      out.push_back(in);
      continue;
    }
    std::vector<std::string> files;
    fs::recursive_directory_iterator it(
        in, fs::directory_options::follow_directory_symlink, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (!name.empty() && name[0] == '.') {
        if (it->is_directory(ec)) it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file(ec)) files.push_back(it->path().string());
    }
    if (ec) {
      throw Error(fmt::format("read {}: {}", in, errno_text(ec.value())));
    }
    if (files.empty()) {
      throw Error(fmt::format(
          "tokenize: --input {}: the folder holds no files to tokenize", in));
    }
    std::sort(files.begin(), files.end());
    out.insert(out.end(), files.begin(), files.end());
  }
  return out;
}

uint64_t run_tokenize_job(const Tokenizer& tok, const TokenizeJob& job) {
  const std::vector<std::string> inputs = expand_inputs(job.inputs);
  if (std::count(inputs.begin(), inputs.end(), "-") > 1) {
    throw ConfigError("tokenize: --input: stdin (-) can be read only once");
  }
  // Every input is opened up front, so a missing one fails before any work.
  std::vector<std::unique_ptr<Input>> files;
  uint64_t total_bytes = 0;
  for (const auto& path : inputs) {
    files.push_back(std::make_unique<Input>(path));
    total_bytes += regular_size(files.back()->file);
  }
  JobOutput out(job);
  Progress progress(job.show_progress, total_bytes);
  uint64_t bytes_before = 0;  // of the inputs already done
  uint64_t num_tokens = 0;
  const std::vector<TokenId> separator{tok.eot_token()};
  for (size_t k = 0; k < files.size(); ++k) {
    Input& in = *files[k];
    if (k > 0) {
      out.write(separator);
      num_tokens += 1;
    }
    auto counted = [&](const std::vector<TokenId>& ids) {
      out.write(ids);
      num_tokens += ids.size();
      const off_t at = ::ftello(in.file);
      if (at >= 0) progress.update(bytes_before + static_cast<uint64_t>(at));
    };
    bytes_before += encode_one(tok, in, counted, job.allowed, job.num_threads);
    progress.update(bytes_before, true);
  }
  out.finish();
  progress.finish(bytes_before, num_tokens);
  return num_tokens;
}

}  // namespace ember
