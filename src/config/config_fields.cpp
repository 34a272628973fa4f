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

// One table row per key: its section's name, where it lives in Config
// (`at`.key: a [train] key lives in one of TrainConfig's parts), its kind
// and its range (the range text is the "expected ..." of its error).
#define EMBER_FIELD(sec, at, k, kind, ok, range)                         \
  Field {                                                                \
    sec, #k, kind, [](Config& c) -> void* { return &c.at.k; }, ok, range \
  }
#define EMBER_TEXT(sec, at, k) \
  EMBER_FIELD(sec, at, k, Kind::kString, nullptr, "")
#define EMBER_LIST(sec, at, k) \
  EMBER_FIELD(sec, at, k, Kind::kStrings, nullptr, "")
#define EMBER_FLAG(sec, at, k) EMBER_FIELD(sec, at, k, Kind::kBool, nullptr, "")
#define EMBER_INT(sec, at, k, lo, hi, range)           \
  EMBER_FIELD(                                         \
      sec,                                             \
      at,                                              \
      k,                                               \
      Kind::kInt,                                      \
      [](double v) { return v >= (lo) && v <= (hi); }, \
      range)
#define EMBER_INT_FROM(sec, at, k, lo, range) \
  EMBER_FIELD(                                \
      sec, at, k, Kind::kInt, [](double v) { return v >= (lo); }, range)
#define EMBER_REAL(sec, at, k, ok, range) \
  EMBER_FIELD(sec, at, k, Kind::kFloat, ok, range)

}  // namespace

const std::vector<Field>& fields() {
  const char* kFinite = "a finite number >= 0";
  // clang-format off
  static const std::vector<Field> kFields = {
      // [data]
      EMBER_TEXT("data", data, format),
      EMBER_TEXT("data", data, path),
      EMBER_TEXT("data", data, train_path),
      EMBER_TEXT("data", data, val_path),
      EMBER_TEXT("data", data, test_path),
      EMBER_REAL("data", data, train_ratio, open_unit, "0 < train_ratio < 1"),
      EMBER_REAL("data", data, test_ratio, unit_from_zero, "0 <= test_ratio < 1"),
      EMBER_FLAG("data", data, mask_prompt),
      EMBER_TEXT("data", data, text_column),
      EMBER_TEXT("data", data, label_column),
      EMBER_TEXT("data", data, delimiter),
      EMBER_LIST("data", data, label_names),
      EMBER_INT("data", data, max_length, 0, kBig, "0 to 1048576; 0 = the longest text (classification)"),
      EMBER_INT("data", data, stride, 1, kBig, "1 to 1048576"),
      EMBER_INT("data", data, batch_size, 1, 65536, "1 to 65536"),
      EMBER_FLAG("data", data, shuffle),
      EMBER_FLAG("data", data, drop_last),
      EMBER_INT("data", data, num_workers, 0, 64, "0 to 64"),
      // [model]
      EMBER_TEXT("model", model, preset),
      EMBER_INT("model", model, vocab_size, 1, 16 * kBig, "1 to 16777216"),
      EMBER_INT("model", model, context_length, 1, kBig, "1 to 1048576"),
      EMBER_INT("model", model, emb_dim, 1, 65536, "1 to 65536"),
      EMBER_INT("model", model, n_layers, 0, 1024, "0 to 1024"),
      EMBER_INT("model", model, n_heads, 1, 65536, "1 to 65536"),
      EMBER_REAL("model", model, drop_rate, unit_from_zero, "0 <= drop_rate < 1"),
      EMBER_FLAG("model", model, qkv_bias),
      EMBER_FLAG("model", model, tie_weights),
      EMBER_TEXT("model", model, pos_encoding),
      EMBER_TEXT("model", model, norm),
      EMBER_TEXT("model", model, attention),
      EMBER_TEXT("model", model, feed_forward),
      EMBER_TEXT("model", model, head),
      EMBER_INT("model", model, num_classes, 2, 65536, "2 to 65536"),
      EMBER_INT("model", model, vocab_pad_to, 1, 65536, "1 to 65536; 1 = no padding"),
      // [train]
      EMBER_INT_FROM("train", train, seed, 0, ">= 0"),
      EMBER_INT("train", train.schedule, epochs, 1, kBig, "1 to 1048576"),
      EMBER_INT_FROM("train", train.schedule, max_steps, 0, ">= 0; 0 = no limit"),
      EMBER_REAL("train", train.optimizer, lr, finite_positive, "a finite number > 0"),
      EMBER_REAL("train", train.optimizer, weight_decay, finite_non_negative, kFinite),
      EMBER_INT("train", train.eval, eval_freq, 1, 1024 * kBig, "1 to 1073741824"),
      EMBER_INT("train", train.eval, eval_iter, 1, kBig, "1 to 1048576"),
      EMBER_TEXT("train", train.eval, sample_prompt),
      EMBER_INT("train", train.eval, sample_tokens, 1, kBig, "1 to 1048576"),
      EMBER_TEXT("train", train.runtime, device),
      EMBER_INT("train", train.runtime, threads, 0, 4096, "0 to 4096; 0 = all cores"),
      EMBER_TEXT("train", train.runtime, precision),
      EMBER_FLAG("train", train.runtime, tf32),
      EMBER_TEXT("train", train.runtime, backend),
      EMBER_INT("train", train.runtime, dist_timeout_s, 1, 86400, "1 to 86400 seconds"),
      EMBER_FLAG("train", train.runtime, dist_sparse_embedding),
      // [train]: the book's appendix D (schedule, clipping), accumulation
      EMBER_TEXT("train", train.schedule, lr_schedule),
      EMBER_INT("train", train.schedule, warmup_steps, 0, 1024 * kBig, "0 to 1073741824"),
      EMBER_REAL("train", train.schedule, warmup_ratio, unit_from_zero, "0 <= warmup_ratio < 1"),
      EMBER_REAL("train", train.schedule, initial_lr, finite_non_negative, kFinite),
      EMBER_REAL("train", train.schedule, min_lr, finite_non_negative, kFinite),
      EMBER_REAL("train", train.optimizer, grad_clip, finite_non_negative, kFinite),
      EMBER_FLAG("train", train.optimizer, grad_clip_after_warmup),
      EMBER_INT("train", train.optimizer, grad_accum_steps, 1, 65536, "1 to 65536"),
      // [train]: fine-tuning (the book's chapter 6 and appendix E)
      EMBER_TEXT("train", train.finetune, trainable),
      EMBER_TEXT("train", train.finetune, adapter),
      EMBER_INT("train", train.finetune, lora_rank, 0, 65536, "0 to 65536; 0 = off"),
      EMBER_REAL("train", train.finetune, lora_alpha, finite_positive, "a finite number > 0"),
      EMBER_LIST("train", train.finetune, lora_targets),
      EMBER_INT("train", train.finetune, frozen_cache_mb, 0, kBig, "0 to 1048576; 0 = keep none"),
      // [run]
      EMBER_TEXT("run", run, dir),
      EMBER_INT_FROM("run", run, checkpoint_every, 0, ">= 0; 0 = only at the end"),
  };
  // clang-format on
  return kFields;
}

#undef EMBER_FIELD
#undef EMBER_TEXT
#undef EMBER_FLAG
#undef EMBER_LIST
#undef EMBER_INT
#undef EMBER_INT_FROM
#undef EMBER_REAL

}  // namespace ember::detail
