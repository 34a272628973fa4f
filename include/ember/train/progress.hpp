// The progress bar of `ember train` on a terminal: one line redrawn after
// each optimizer step ("[#####.....] step 12/60  20% ETA 1m05s"), cleared
// before every log line so logs and bar never mix. Mirrors nothing in the
// book (its loop prints only at evaluations). Leaves out: colours, widths
// other than 30 cells.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace ember {

/// "42s", "3m07s", "1h05m"; "?" for a negative or non-finite time.
std::string format_duration(double seconds);

class ProgressBar {
 public:
  /// Draws on `out` only when `enabled` (the driver passes isatty).
  ProgressBar(bool enabled, std::FILE* out) : enabled_(enabled), out_(out) {}

  bool enabled() const {
    return enabled_;
  }

  /// Redraws the bar at `step` of `total` steps; the ETA extrapolates
  /// `session_s` seconds spent on `session_steps` steps this session.
  void draw(
      int64_t step,
      int64_t total,
      int64_t session_steps,
      double session_s) const;

  /// Erases the bar's line, so that a log line can take its place.
  void clear() const;

 private:
  bool enabled_;
  std::FILE* out_;
};

}  // namespace ember
