#include "config_fields.hpp"

#include <cmath>

namespace ember::detail {
namespace {

constexpr double kBig = static_cast<double>(1LL << 20);  // 1,048,576

#define EMBER_FIELD(sec, k, kind, ok, range)                                \
  Field {                                                                   \
#sec, #k, kind, [](Config & c) -> void* { return &c.sec.k; }, ok, range \
  }

// The [data] keys, in the order config_keys() lists them.
void add_data_fields(std::vector<Field>& out) {
  out.insert(
      out.end(),
      {
          EMBER_FIELD(data, path, Kind::kString, nullptr, ""),
          EMBER_FIELD(data, train_path, Kind::kString, nullptr, ""),
          EMBER_FIELD(data, val_path, Kind::kString, nullptr, ""),
          EMBER_FIELD(
              data,
              train_ratio,
              Kind::kFloat,
              [](double v) { return v > 0.0 && v < 1.0; },
              "0 < train_ratio < 1"),
          EMBER_FIELD(
              data,
              max_length,
              Kind::kInt,
              [](double v) { return v >= 1 && v <= kBig; },
              "1 to 1048576"),
          EMBER_FIELD(
              data,
              stride,
              Kind::kInt,
              [](double v) { return v >= 1 && v <= kBig; },
              "1 to 1048576"),
          EMBER_FIELD(
              data,
              batch_size,
              Kind::kInt,
              [](double v) { return v >= 1 && v <= 65536; },
              "1 to 65536"),
          EMBER_FIELD(data, shuffle, Kind::kBool, nullptr, ""),
          EMBER_FIELD(data, drop_last, Kind::kBool, nullptr, ""),
          EMBER_FIELD(
              data,
              num_workers,
              Kind::kInt,
              [](double v) { return v >= 0 && v <= 64; },
              "0 to 64"),
      });
}

// The [model] keys, in the order config_keys() lists them.
void add_model_fields(std::vector<Field>& out) {
  out.insert(
      out.end(),
      {
          EMBER_FIELD(model, preset, Kind::kString, nullptr, ""),
          EMBER_FIELD(
              model,
              vocab_size,
              Kind::kInt,
              [](double v) { return v >= 1 && v <= 16 * kBig; },
              "1 to 16777216"),
          EMBER_FIELD(
              model,
              context_length,
              Kind::kInt,
              [](double v) { return v >= 1 && v <= kBig; },
              "1 to 1048576"),
          EMBER_FIELD(
              model,
              emb_dim,
              Kind::kInt,
              [](double v) { return v >= 1 && v <= 65536; },
              "1 to 65536"),
          EMBER_FIELD(
              model,
              n_layers,
              Kind::kInt,
              [](double v) { return v >= 0 && v <= 1024; },
              "0 to 1024"),
          EMBER_FIELD(
              model,
              n_heads,
              Kind::kInt,
              [](double v) { return v >= 1 && v <= 65536; },
              "1 to 65536"),
          EMBER_FIELD(
              model,
              drop_rate,
              Kind::kFloat,
              [](double v) { return v >= 0.0 && v < 1.0; },
              "0 <= drop_rate < 1"),
          EMBER_FIELD(model, qkv_bias, Kind::kBool, nullptr, ""),
          EMBER_FIELD(model, tie_weights, Kind::kBool, nullptr, ""),
          EMBER_FIELD(model, pos_encoding, Kind::kString, nullptr, ""),
          EMBER_FIELD(model, norm, Kind::kString, nullptr, ""),
          EMBER_FIELD(model, attention, Kind::kString, nullptr, ""),
          EMBER_FIELD(model, feed_forward, Kind::kString, nullptr, ""),
      });
}

bool finite_non_negative(double v) {
  return v >= 0.0 && std::isfinite(v);
}

// The [train] keys of the book's appendix D (schedule, clipping) and
// gradient accumulation, after the other [train] keys.
void add_schedule_fields(std::vector<Field>& out) {
  const char* kFinite = "a finite number >= 0";
  out.insert(
      out.end(),
      {
          EMBER_FIELD(train, lr_schedule, Kind::kString, nullptr, ""),
          EMBER_FIELD(
              train,
              warmup_steps,
              Kind::kInt,
              [](double v) { return v >= 0 && v <= 1024 * kBig; },
              "0 to 1073741824"),
          EMBER_FIELD(
              train,
              warmup_ratio,
              Kind::kFloat,
              [](double v) { return v >= 0.0 && v < 1.0; },
              "0 <= warmup_ratio < 1"),
          EMBER_FIELD(
              train, initial_lr, Kind::kFloat, finite_non_negative, kFinite),
          EMBER_FIELD(
              train, min_lr, Kind::kFloat, finite_non_negative, kFinite),
          EMBER_FIELD(
              train, grad_clip, Kind::kFloat, finite_non_negative, kFinite),
          EMBER_FIELD(train, grad_clip_after_warmup, Kind::kBool, nullptr, ""),
          EMBER_FIELD(
              train,
              grad_accum_steps,
              Kind::kInt,
              [](double v) { return v >= 1 && v <= 65536; },
              "1 to 65536"),
      });
}

// The [train] keys, in the order config_keys() lists them.
void add_train_fields(std::vector<Field>& out) {
  out.insert(
      out.end(),
      {
          EMBER_FIELD(
              train, seed, Kind::kInt, [](double v) { return v >= 0; }, ">= 0"),
          EMBER_FIELD(
              train,
              epochs,
              Kind::kInt,
              [](double v) { return v >= 1 && v <= kBig; },
              "1 to 1048576"),
          EMBER_FIELD(
              train,
              max_steps,
              Kind::kInt,
              [](double v) { return v >= 0; },
              ">= 0; 0 = no limit"),
          EMBER_FIELD(
              train,
              lr,
              Kind::kFloat,
              [](double v) { return v > 0.0 && std::isfinite(v); },
              "a finite number > 0"),
          EMBER_FIELD(
              train,
              weight_decay,
              Kind::kFloat,
              [](double v) { return v >= 0.0 && std::isfinite(v); },
              "a finite number >= 0"),
          EMBER_FIELD(
              train,
              eval_freq,
              Kind::kInt,
              [](double v) { return v >= 1 && v <= 1024 * kBig; },
              "1 to 1073741824"),
          EMBER_FIELD(
              train,
              eval_iter,
              Kind::kInt,
              [](double v) { return v >= 1 && v <= kBig; },
              "1 to 1048576"),
          EMBER_FIELD(train, sample_prompt, Kind::kString, nullptr, ""),
          EMBER_FIELD(
              train,
              sample_tokens,
              Kind::kInt,
              [](double v) { return v >= 1 && v <= kBig; },
              "1 to 1048576"),
          EMBER_FIELD(train, device, Kind::kString, nullptr, ""),
          EMBER_FIELD(
              train,
              threads,
              Kind::kInt,
              [](double v) { return v >= 0 && v <= 4096; },
              "0 to 4096; 0 = all cores"),
          EMBER_FIELD(train, backend, Kind::kString, nullptr, ""),
          EMBER_FIELD(
              train,
              dist_timeout_s,
              Kind::kInt,
              [](double v) { return v >= 1 && v <= 86400; },
              "1 to 86400 seconds"),
          EMBER_FIELD(train, dist_sparse_embedding, Kind::kBool, nullptr, ""),
      });
  add_schedule_fields(out);
}

// The [run] keys, in the order config_keys() lists them.
void add_run_fields(std::vector<Field>& out) {
  out.insert(
      out.end(),
      {
          EMBER_FIELD(run, dir, Kind::kString, nullptr, ""),
          EMBER_FIELD(
              run,
              checkpoint_every,
              Kind::kInt,
              [](double v) { return v >= 0; },
              ">= 0; 0 = only at the end"),
      });
}

}  // namespace

const std::vector<Field>& fields() {
  static const std::vector<Field> kFields = [] {
    std::vector<Field> all;
    add_data_fields(all);
    add_model_fields(all);
    add_train_fields(all);
    add_run_fields(all);
    return all;
  }();
  return kFields;
}

#undef EMBER_FIELD

}  // namespace ember::detail
