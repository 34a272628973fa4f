// Training checkpoints: model and optimizer tensors, RNG states, step and
// loader position, and the config they were made with, in one file written
// atomically (temp file, fsync, rename, fsync of the folder) so a crash or
// kill during a save leaves the previous checkpoint intact. The payload is a
// torch::serialize archive followed by a trailer (magic, size, 64-bit hash),
// so truncated or corrupted files are refused before parsing.
// Leaves out: keeping several checkpoints (the latest replaces the previous).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/types.h>  // torch::Tensor

namespace torch {
namespace nn {
class Module;
}  // namespace nn
}  // namespace torch

namespace ember {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

struct Checkpoint {
  std::string config_toml;  ///< to_toml() of the run's config
  int64_t step = 0;         ///< optimizer steps taken
  int64_t epoch = 0;        ///< 0-based epoch the train pass belongs to
  int64_t position = 0;     ///< batches of that pass consumed
  int64_t sampler_seed = -1;
  int64_t tokens_seen = 0;
  double elapsed_s = 0.0;
  NamedTensors model;      ///< parameters and buffers, CPU
  NamedTensors optimizer;  ///< AdamW state (see AdamW::state)
  torch::Tensor cpu_rng;   ///< default CPU generator state
  torch::Tensor cuda_rng;  ///< CUDA generator state, or undefined
};

/// A module's parameters then buffers, by their names (the tensors
/// themselves, not copies).
NamedTensors model_state(torch::nn::Module& m);

/// Copies `saved` into `m`'s parameters and buffers by name. Throws
/// ember::Error "<where>: the checkpoint has no 'x'; ..." or a shape
/// mismatch naming the key. Names ember used before the book's (e.g.
/// embedding.tok_emb.weight) are mapped when a checkpoint is read.
void load_model_state(
    torch::nn::Module& m, const NamedTensors& saved, const std::string& where);

/// Writes `ckpt` to `path` atomically. Throws ember::Error naming `path`
/// and the reason (disk full, permission); the previous file is unchanged.
void save_checkpoint(const std::string& path, const Checkpoint& ckpt);

/// Reads a checkpoint. Throws ember::Error "checkpoint <path>: ..." when it
/// is missing, truncated, corrupted or not an ember checkpoint.
Checkpoint load_checkpoint(const std::string& path);

/// load_checkpoint on the file's bytes; `path` names it in messages. Besides
/// the trailer it refuses archives that lack a key, hold a key of the wrong
/// kind, or a negative step, epoch, position or token count.
Checkpoint parse_checkpoint(std::string_view bytes, const std::string& path);

/// The 24-byte trailer save_checkpoint appends to an archive `payload`
/// (magic, size, hash): for tests and fuzz/checkpoint_fuzz.cpp, which build
/// files whose archive is altered but whose trailer is valid.
std::string checkpoint_trailer(std::string_view payload);

}  // namespace ember
