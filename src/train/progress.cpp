#include "ember/train/progress.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/core.h>

namespace ember {

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const auto total = static_cast<int64_t>(s + 0.5);
  if (total >= 3600)
    return fmt::format("{}h{:02d}m", total / 3600, (total / 60) % 60);
  if (total >= 60) return fmt::format("{}m{:02d}s", total / 60, total % 60);
  return fmt::format("{}s", total);
}

void ProgressBar::draw(
    int64_t step,
    int64_t total,
    int64_t session_steps,
    double session_s) const {
  if (!enabled_) return;
  const double done = static_cast<double>(step) /
                      static_cast<double>(std::max<int64_t>(total, 1));
  const int width = 30;
  const int fill = static_cast<int>(done * width);
  const double eta = session_steps > 0
                         ? session_s / static_cast<double>(session_steps) *
                               static_cast<double>(total - step)
                         : NAN;
  fmt::print(
      out_,
      "\r[{}{}] step {}/{} {:3.0f}% ETA {}\033[K",
      std::string(static_cast<size_t>(fill), '#'),
      std::string(static_cast<size_t>(width - fill), '.'),
      step,
      total,
      100 * done,
      format_duration(eta));
  std::fflush(out_);
}

void ProgressBar::clear() const {
  if (enabled_) fmt::print(out_, "\r\033[K");
}

}  // namespace ember
