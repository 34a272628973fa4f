// Model weights to and from the files the Python world uses: the book's
// `torch.save(model.state_dict(), "model.pth")` (checkpoint/pth.hpp), the
// same keys as safetensors, and OpenAI's GPT-2 in Hugging Face's layout
// (`model.safetensors` of gpt2, gpt2-medium, gpt2-large, gpt2-xl), mapped to
// the book's keys the way the book's load_weights_into_gpt maps them.
//
// Hugging Face GPT-2 key (optional "transformer." prefix) -> the book's:
//   wte.weight                 tok_emb.weight and out_head.weight
//   wpe.weight                 pos_emb.weight
//   h.N.ln_1.weight / .bias    trf_blocks.N.norm1.scale / .shift
//   h.N.attn.c_attn.weight     W_query/W_key/W_value.weight: (D, 3D) split
//                              in three along the last dim, transposed
//   h.N.attn.c_attn.bias       W_query/W_key/W_value.bias: (3D) split
//   h.N.attn.c_proj.*          trf_blocks.N.att.out_proj.* (weight transposed)
//   h.N.ln_2.*                 trf_blocks.N.norm2.*
//   h.N.mlp.c_fc.*             trf_blocks.N.ff.layers.0.* (weight transposed)
//   h.N.mlp.c_proj.*           trf_blocks.N.ff.layers.2.* (weight transposed)
//   ln_f.weight / .bias        final_norm.scale / .shift
//   lm_head.weight             out_head.weight (when present)
//   h.N.attn.bias, h.N.attn.masked_bias: buffers, ignored
// Conv1D stores (in, out), Linear (out, in): hence the transposes.
#pragma once

#include <functional>
#include <string>

#include <ember/checkpoint/state_dict.hpp>

namespace torch {
namespace nn {
class Module;
}  // namespace nn
}  // namespace torch

namespace ember {

/// A weight file's tensors as stored. The format comes from the content: a
/// zip (PyTorch's .pth) or a safetensors header. Throws ember::Error, one
/// line naming the file and what is wrong.
StateDict read_weights(const std::string& path);

/// Whether `sd` uses Hugging Face's GPT-2 keys (wte.weight, h.0...).
bool is_hf_gpt2(const StateDict& sd);

/// Hugging Face GPT-2 tensors under the book's keys (see above). Throws
/// ember::Error naming the key when a block lacks a part or a shape does
/// not split.
StateDict from_hf_gpt2(const StateDict& hf, const std::string& where);

/// The book's GPT-2 keys in Hugging Face's layout (the inverse). Needs
/// attention biases (qkv_bias) and an out_head equal to tok_emb (tied
/// weights); throws ember::Error saying which is missing.
StateDict to_hf_gpt2(const StateDict& book);

/// `m`'s parameters and buffers in PyTorch's state_dict order (a module's
/// own parameters, its own buffers, then each child's, depth first), under
/// the book's keys; a model with tied weights also lists out_head.weight
/// (the book's GPTModel always has one).
StateDict torch_state_dict(torch::nn::Module& m);

/// Which entries a weight file fills (load_weights); by default all of the
/// model's.
struct WeightFilter {
  /// The model's entries the file fills (the others keep their values,
  /// e.g. a base file under a model with adapters); empty = every one.
  std::function<bool(const std::string&)> fills;
  /// The file's entries to leave out (e.g. a base model's out_head under a
  /// new classifier head); empty = none.
  std::function<bool(const std::string&)> skips;
};

/// Copies the weights of `path` (read_weights, Hugging Face keys mapped)
/// into `m`, converting floating-point tensors to float32. Strict: every
/// parameter of `m` that `filter` selects present with its shape, no key
/// outside them but those it skips (all listed); buffers (the attention
/// masks) are checked when present. Throws ember::Error, one line naming
/// the file and the keys.
void load_weights(
    torch::nn::Module& m,
    const std::string& path,
    const WeightFilter& filter = {});

/// Writes `sd` to `path` atomically in `format` (see export_weights).
void write_weights(
    const StateDict& sd, const std::string& path, const std::string& format);

/// Writes `m`'s weights to `path` atomically: format "pth" (what
/// torch.save(model.state_dict()) writes for the book's GPTModel),
/// "safetensors" (the same keys) or "hf-safetensors" (to_hf_gpt2).
void export_weights(
    torch::nn::Module& m, const std::string& path, const std::string& format);

}  // namespace ember
