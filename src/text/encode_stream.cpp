// Tokenizer::encode_stream: a stream encoded in pieces of about 1 MiB, cut at
// next_safe_split boundaries by the reading thread, encoded by worker
// threads with no barrier between pieces, handed to the sink in order.
// ember's own (tiktoken encodes whole strings); tokenizer.md has the contract.
#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "ember/text/tokenizer.hpp"
#include <fmt/core.h>

#include <ember/text/hash_tables.hpp>
#include <ember/text/pretokenizer.hpp>
#include <ember/text/special_tokens.hpp>
#include <ember/text/vocab_tables.hpp>
#include <ember/util/error.hpp>

namespace ember {
namespace {

using detail::check_utf8;
using detail::encode_with_specials;
using detail::PieceCache;
using detail::raise_if_disallowed;
using detail::splits_before_space;
using Tables = Tokenizer::Tables;

// --- encode_stream's phases: cut the stream into pieces (one thread), encode
// each piece (any thread), hand the ids to the sink in stream order.

struct Piece {
  std::string text;
  uint64_t base = 0;  // stream offset of text[0]
  std::vector<TokenId> ids;
  std::exception_ptr error;
  bool done = false;
};

// Reading (one thread only): each piece is the carry of the one before plus
// about chunk_bytes read straight into it, cut at its last next_safe_split
// boundary; what follows the cut (usually part of a word) is the next
// piece's carry. A piece without a boundary reads on until it has one or the
// stream ends.
class StreamCutter {
 public:
  StreamCutter(std::FILE* in, size_t chunk_bytes)
      : in_(in), chunk_bytes_(chunk_bytes) {}

  // Fills `piece` with the next piece; false at the end of the stream.
  bool cut_next(Piece& piece) {
    piece.text.assign(carry_);  // into the piece's (reused) buffer
    carry_.clear();
    size_t searched = 0;  // text[0, searched) holds no boundary
    for (;;) {
      if (!eof_) read_into(piece.text);
      const std::string_view text = piece.text;
      if (eof_) break;
      // The last next_safe_split boundary among the bytes not searched
      // before.
      size_t cut = 0;
      for (size_t i = text.size(); i-- > std::max<size_t>(searched, 1);) {
        if (text[i] == ' ' && splits_before_space(text[i - 1])) {
          cut = i;
          break;
        }
      }
      if (cut > 0) {
        carry_.assign(text.substr(cut));
        piece.text.resize(cut);
        break;
      }
      searched = text.size();
    }
    if (piece.text.empty()) return false;
    piece.base = base_;
    base_ += piece.text.size();
    return true;
  }
  // Bytes handed out in pieces so far (all of them at the end).
  uint64_t bytes_read() const {
    return base_;
  }

 private:
  void read_into(std::string& text) {
    const size_t have = text.size();
    text.resize(have + chunk_bytes_);
    const size_t got = std::fread(text.data() + have, 1, chunk_bytes_, in_);
    text.resize(have + got);
    if (got < chunk_bytes_) {
      if (std::ferror(in_)) {
        throw Error(fmt::format(
            "encode_stream: read error at byte {}: {}",
            base_ + text.size(),
            std::strerror(errno)));
      }
      eof_ = true;
    }
  }
  std::FILE* in_;
  size_t chunk_bytes_;
  std::string carry_;
  uint64_t base_ = 0;  // stream offset of the next piece
  bool eof_ = false;
};

// Encodes one piece into piece.ids, or its error into piece.error; errors
// carry stream offsets. The cache is the calling thread's, cleared for each
// piece (its keys point into the text).
struct PieceEncoder {
  const Tables& tables;
  const AllowedSpecial& allowed;
  Disallowed on_disallowed;

  void operator()(Piece& piece, PieceCache& cache) const {
    try {
      const std::string& text = piece.text;
      check_utf8(text, piece.base);
      if (on_disallowed == Disallowed::kRaise) {
        raise_if_disallowed(tables, text, allowed, piece.base);
      }
      cache.clear();
      piece.ids.reserve(text.size() / 2 + 16);
      encode_with_specials(
          tables, text, allowed, Disallowed::kAsText, cache, piece.ids);
    } catch (...) {
      piece.error = std::current_exception();
    }
  }
};

using IdSink = std::function<void(const std::vector<TokenId>&)>;

// Hands a finished piece to the sink, or throws its error.
void emit(const Piece& piece, const IdSink& sink) {
  if (piece.error) std::rethrow_exception(piece.error);
  sink(piece.ids);
}

void encode_pieces_serial(
    StreamCutter& cutter, const PieceEncoder& encode, const IdSink& sink) {
  Piece piece;
  PieceCache cache;
  while (cutter.cut_next(piece)) {
    encode(piece, cache);
    emit(piece, sink);
    piece.ids.clear();
  }
}

// Several threads: the calling one reads and cuts pieces into a window of
// in-flight pieces and hands them to the sink in order; the workers encode
// whichever piece is next, with no barrier between pieces, so a slow piece
// holds up only the sink, never the other workers.
class ParallelPieces {
 public:
  ParallelPieces(const PieceEncoder& encode, unsigned num_threads)
      : encode_(encode), window_(2 * size_t{num_threads} + 2) {
    for (unsigned k = 0; k < num_threads; ++k) {
      threads_.emplace_back([this] { work(); });
    }
  }
  ~ParallelPieces() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    work_ready_.notify_all();
    for (auto& th : threads_) th.join();
  }
  ParallelPieces(const ParallelPieces&) = delete;
  ParallelPieces& operator=(const ParallelPieces&) = delete;

  // Tops the window up with pieces cut from `cutter` (cutting happens
  // outside the lock); false once the stream has ended.
  bool fill(StreamCutter& cutter) {
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (pieces_.size() >= window_) return true;
      }
      Piece piece = reused_piece();
      if (!cutter.cut_next(piece)) return false;
      {
        std::lock_guard<std::mutex> lock(mu_);
        pieces_.push_back(std::move(piece));
      }
      work_ready_.notify_one();
    }
  }
  // Waits for the oldest piece and hands it to the sink; false when none is
  // left.
  bool emit_next(const IdSink& sink) {
    Piece front;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (pieces_.empty()) return false;
      piece_done_.wait(lock, [&] { return pieces_.front().done; });
      front = std::move(pieces_.front());
      pieces_.pop_front();
      --next_job_;
    }
    emit(front, sink);
    spare_.push_back(std::move(front));
    return true;
  }

 private:
  void work() {
    PieceCache cache;
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      work_ready_.wait(
          lock, [&] { return stop_ || next_job_ < pieces_.size(); });
      if (stop_) return;
      Piece& piece = pieces_[next_job_++];  // deque: stable under push_back
      lock.unlock();
      encode_(piece, cache);
      lock.lock();
      piece.done = true;
      piece_done_.notify_all();
    }
  }
  // A piece emitted before keeps its buffers: no fresh pages (and page
  // faults) for every megabyte.
  Piece reused_piece() {
    Piece piece;
    if (!spare_.empty()) {
      piece = std::move(spare_.back());
      spare_.pop_back();
      piece.ids.clear();
      piece.error = nullptr;
      piece.done = false;
    }
    return piece;
  }

  const PieceEncoder& encode_;
  const size_t window_;
  std::deque<Piece> pieces_;  // in stream order; front = next to emit
  std::vector<Piece> spare_;  // emitted, their buffers kept for reuse
  size_t next_job_ = 0;       // pieces_[next_job_] is the next to encode
  bool stop_ = false;
  std::mutex mu_;
  std::condition_variable work_ready_, piece_done_;
  std::vector<std::thread> threads_;  // last: started once the rest is set
};

void encode_pieces_parallel(
    StreamCutter& cutter,
    const PieceEncoder& encode,
    const IdSink& sink,
    unsigned num_threads) {
  ParallelPieces pieces(encode, num_threads);
  bool more = true;
  do {
    if (more) more = pieces.fill(cutter);
  } while (pieces.emit_next(sink));
}

}  // namespace

uint64_t Tokenizer::encode_stream(
    std::FILE* in,
    const std::function<void(const std::vector<TokenId>&)>& sink,
    const AllowedSpecial& allowed,
    Disallowed on_disallowed,
    unsigned num_threads,
    size_t chunk_bytes) const {
  if (num_threads == 0)
    num_threads = std::max(1u, std::thread::hardware_concurrency());
  StreamCutter cutter(in, std::max<size_t>(chunk_bytes, 1));
  const PieceEncoder encoder{*tables_, allowed, on_disallowed};
  if (num_threads == 1) {
    encode_pieces_serial(cutter, encoder, sink);
  } else {
    encode_pieces_parallel(cutter, encoder, sink, num_threads);
  }
  return cutter.bytes_read();
}

}  // namespace ember
