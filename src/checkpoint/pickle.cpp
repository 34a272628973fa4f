#include "ember/checkpoint/pickle.hpp"

namespace ember {

using detail::put_le;

void PickleWriter::integer(int64_t v) {
  if (v >= 0 && v < 256) {
    out += 'K';
    put_le(out, static_cast<uint64_t>(v), 1);
  } else if (v >= 0 && v < 65536) {
    out += 'M';
    put_le(out, static_cast<uint64_t>(v), 2);
  } else if (v >= INT32_MIN && v <= INT32_MAX) {
    out += 'J';
    put_le(out, static_cast<uint64_t>(v), 4);
  } else {
    ops("\x8a\x08", 2);  // LONG1 of 8 bytes
    put_le(out, static_cast<uint64_t>(v), 8);
  }
}

void PickleWriter::str(std::string_view s) {
  out += 'X';
  put_le(out, s.size(), 4);
  out += s;
}

void PickleWriter::global(std::string_view dotted) {
  const size_t dot = dotted.rfind('.');
  out += 'c';
  out += dotted.substr(0, dot);
  out += '\n';
  out += dotted.substr(dot + 1);
  out += '\n';
}

void PickleWriter::int_tuple(c10::IntArrayRef v) {
  if (v.size() > 3) out += '(';
  for (const int64_t x : v) integer(x);
  if (v.size() > 3) {
    out += 't';
  } else {
    out += static_cast<char>(v.empty() ? ')' : 0x84 + v.size());
  }
}

}  // namespace ember
