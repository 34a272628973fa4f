#include "config_fields.hpp"

#include <cmath>

namespace ember::detail {
namespace {

constexpr double kBig = static_cast<double>(1LL << 20);  // 1,048,576

// The ranges of float keys.
bool open_unit(double v) {  // 0 < v < 1
  return v > 0.0 && v < 1.0;
}
bool unit_from_zero(double v) {  // 0 <= v < 1
  return v >= 0.0 && v < 1.0;
}
bool finite_positive(double v) {
  return v > 0.0 && std::isfinite(v);
}
bool finite_non_negative(double v) {
  return v >= 0.0 && std::isfinite(v);
}

// One table row per key: where it lives in Config (section.key), its kind
// and its range (the range text is the "expected ..." of its error).
#define EMBER_REF(sec, k) [](Config& c) -> void* { return &c.sec.k; }
#define EMBER_TEXT(sec, k)                                  \
  Field {                                                   \
#sec, #k, Kind::kString, EMBER_REF(sec, k), nullptr, "" \
  }
#define EMBER_FLAG(sec, k)                                \
  Field {                                                 \
#sec, #k, Kind::kBool, EMBER_REF(sec, k), nullptr, "" \
  }
#define EMBER_INT(sec, k, lo, hi, range)                       \
  Field {                                                      \
#sec, #k, Kind::kInt, EMBER_REF(sec, k),                   \
        [](double v) { return v >= (lo) && v <= (hi); }, range \
  }
#define EMBER_INT_FROM(sec, k, lo, range)         \
  Field {                                         \
#sec, #k, Kind::kInt, EMBER_REF(sec, k),      \
        [](double v) { return v >= (lo); }, range \
  }
#define EMBER_REAL(sec, k, ok, range)                    \
  Field {                                                \
#sec, #k, Kind::kFloat, EMBER_REF(sec, k), ok, range \
  }

}  // namespace

const std::vector<Field>& fields() {
  const char* kFinite = "a finite number >= 0";
  // clang-format off
  static const std::vector<Field> kFields = {
      // [data]
      EMBER_TEXT(data, format),
      EMBER_TEXT(data, path),
      EMBER_TEXT(data, train_path),
      EMBER_TEXT(data, val_path),
      EMBER_REAL(data, train_ratio, open_unit, "0 < train_ratio < 1"),
      EMBER_REAL(data, test_ratio, unit_from_zero, "0 <= test_ratio < 1"),
      EMBER_FLAG(data, mask_prompt),
      EMBER_INT(data, max_length, 1, kBig, "1 to 1048576"),
      EMBER_INT(data, stride, 1, kBig, "1 to 1048576"),
      EMBER_INT(data, batch_size, 1, 65536, "1 to 65536"),
      EMBER_FLAG(data, shuffle),
      EMBER_FLAG(data, drop_last),
      EMBER_INT(data, num_workers, 0, 64, "0 to 64"),
      // [model]
      EMBER_TEXT(model, preset),
      EMBER_INT(model, vocab_size, 1, 16 * kBig, "1 to 16777216"),
      EMBER_INT(model, context_length, 1, kBig, "1 to 1048576"),
      EMBER_INT(model, emb_dim, 1, 65536, "1 to 65536"),
      EMBER_INT(model, n_layers, 0, 1024, "0 to 1024"),
      EMBER_INT(model, n_heads, 1, 65536, "1 to 65536"),
      EMBER_REAL(model, drop_rate, unit_from_zero, "0 <= drop_rate < 1"),
      EMBER_FLAG(model, qkv_bias),
      EMBER_FLAG(model, tie_weights),
      EMBER_TEXT(model, pos_encoding),
      EMBER_TEXT(model, norm),
      EMBER_TEXT(model, attention),
      EMBER_TEXT(model, feed_forward),
      // [train]
      EMBER_INT_FROM(train, seed, 0, ">= 0"),
      EMBER_INT(train, epochs, 1, kBig, "1 to 1048576"),
      EMBER_INT_FROM(train, max_steps, 0, ">= 0; 0 = no limit"),
      EMBER_REAL(train, lr, finite_positive, "a finite number > 0"),
      EMBER_REAL(train, weight_decay, finite_non_negative, kFinite),
      EMBER_INT(train, eval_freq, 1, 1024 * kBig, "1 to 1073741824"),
      EMBER_INT(train, eval_iter, 1, kBig, "1 to 1048576"),
      EMBER_TEXT(train, sample_prompt),
      EMBER_INT(train, sample_tokens, 1, kBig, "1 to 1048576"),
      EMBER_TEXT(train, device),
      EMBER_INT(train, threads, 0, 4096, "0 to 4096; 0 = all cores"),
      EMBER_TEXT(train, backend),
      EMBER_INT(train, dist_timeout_s, 1, 86400, "1 to 86400 seconds"),
      EMBER_FLAG(train, dist_sparse_embedding),
      // [train]: the book's appendix D (schedule, clipping), accumulation
      EMBER_TEXT(train, lr_schedule),
      EMBER_INT(train, warmup_steps, 0, 1024 * kBig, "0 to 1073741824"),
      EMBER_REAL(train, warmup_ratio, unit_from_zero, "0 <= warmup_ratio < 1"),
      EMBER_REAL(train, initial_lr, finite_non_negative, kFinite),
      EMBER_REAL(train, min_lr, finite_non_negative, kFinite),
      EMBER_REAL(train, grad_clip, finite_non_negative, kFinite),
      EMBER_FLAG(train, grad_clip_after_warmup),
      EMBER_INT(train, grad_accum_steps, 1, 65536, "1 to 65536"),
      // [run]
      EMBER_TEXT(run, dir),
      EMBER_INT_FROM(run, checkpoint_every, 0, ">= 0; 0 = only at the end"),
  };
  // clang-format on
  return kFields;
}

#undef EMBER_REF
#undef EMBER_TEXT
#undef EMBER_FLAG
#undef EMBER_INT
#undef EMBER_INT_FROM
#undef EMBER_REAL

}  // namespace ember::detail
