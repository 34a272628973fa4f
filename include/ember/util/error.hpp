// Error types of ember's library code. The library throws and never exits;
// only the driver's main() catches, prints one line and picks the exit status.
// Messages are one line, lowercase, no final period:
//   "<where>: <what> (got X, expected Y); hint: <fix>"
#pragma once

#include <stdexcept>
#include <string>

namespace ember {

/// Base of every error ember throws on purpose (bad input, bad files).
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A tokenizer error: a disallowed special token, an unknown id, a vocabulary
/// file that is missing or fails its SHA-256 pin.
class TokenizerError : public Error {
 public:
  using Error::Error;
};

/// Invalid UTF-8 where text is required; `offset()` is the first bad byte.
class Utf8Error : public Error {
 public:
  Utf8Error(const std::string& what, size_t offset)
      : Error(what), offset_(offset) {}
  size_t offset() const noexcept {
    return offset_;
  }

 private:
  size_t offset_;
};

/// Invalid configuration or command-line values: the driver exits with 2.
class ConfigError : public Error {
 public:
  using Error::Error;
};

}  // namespace ember
