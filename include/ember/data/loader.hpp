// Batches over a BatchSource (the book's windows or its instruction entries)
// with DataLoader's options, drawing from the global CPU generator exactly as
// PyTorch 1.13's DataLoader(RandomSampler | SequentialSampler, BatchSampler)
// does, so a C++ and a Python run seeded alike see the same batches
// (torch/utils/data/ dataloader.py _BaseDataLoaderIter.__init__, sampler.py
// RandomSampler.__iter__, BatchSampler.__iter__). Leaves out: samplers with
// replacement, pinned memory, worker processes (num_workers > 0 uses
// threads). The collate_fn is the source's (batch_source.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include <ATen/core/Tensor.h>

#include <ember/data/batch_source.hpp>
#include <ember/data/gpt_dataset.hpp>

namespace ember {

/// create_dataloader_v1's options (B = batch_size).
struct LoaderOptions {
  int64_t batch_size = 4;
  bool shuffle = true;
  bool drop_last = true;
  /// 0 = batches are built in the calling thread; N > 0 = N threads prefetch
  /// up to 2 * N batches ahead. The order and the generator draws are the
  /// same for every value.
  int64_t num_workers = 0;
};

/// Throws c10::ValueError on batch_size < 1 or num_workers < 0.
///
///   torch::manual_seed(123);
///   Loader loader(GptDataset(ids, 4, 4), {8, /*shuffle=*/false});
///   auto pass = loader.begin_pass();   // iter(dataloader)
///   while (auto batch = pass.next()) { /* batch->inputs: (8, 4) */ }
class Loader {
 public:
  /// The book's windows (a WindowSource over `dataset`).
  Loader(GptDataset dataset, LoaderOptions options);
  /// Any source; the last batch has fewer rows when drop_last is false.
  Loader(std::shared_ptr<const BatchSource> source, LoaderOptions options);

  /// len(DataLoader): floor(W / B) with drop_last, else ceil(W / B).
  size_t num_batches() const;

  struct PassState;

  /// One iteration over the loader (Python's _SingleProcessDataLoaderIter).
  /// Movable, not copyable; holds its own references to the data, so it may
  /// outlive the Loader.
  class Pass {
   public:
    Pass(Pass&&) noexcept;
    Pass& operator=(Pass&&) noexcept;
    ~Pass();

    /// The next batch, or std::nullopt after the last one. For a shuffled
    /// pass the FIRST call draws the sampler's seed from the global
    /// generator (RandomSampler.__iter__ is a generator: its body runs at
    /// the first next()); later calls draw nothing. Worker errors are
    /// rethrown here.
    std::optional<Batch> next();
    /// Batches yielded so far.
    size_t position() const;
    /// The seed of this pass's randperm, or -1 while it is not drawn yet
    /// (before the first next()) and always for an unshuffled loader.
    int64_t sampler_seed() const;
    /// The worker base seed drawn by begin_pass() (unused, as with
    /// num_workers = 0 in PyTorch), or -1 for a resumed pass.
    int64_t base_seed() const;

   private:
    friend class Loader;
    explicit Pass(std::unique_ptr<PassState> state);
    std::unique_ptr<PassState> state_;
  };

  /// iter(DataLoader): draws the worker base seed,
  /// torch.empty((), dtype=torch.int64).random_(), from the global CPU
  /// generator, exactly as PyTorch does even with num_workers = 0.
  Pass begin_pass();

  /// Continues a saved pass at batch `position` without drawing anything:
  /// `sampler_seed` is a value of Pass::sampler_seed() (ignored when not
  /// shuffling; must be >= 0 when shuffling). Throws c10::ValueError when
  /// position > num_batches() or the seed is missing.
  Pass resume_pass(int64_t sampler_seed, size_t position);

  /// The windows of a Loader made from a GptDataset; throws c10::Error
  /// for any other source.
  const GptDataset& dataset() const;
  const BatchSource& source() const {
    return *source_;
  }
  const LoaderOptions& options() const {
    return options_;
  }

 private:
  std::shared_ptr<const BatchSource> source_;
  LoaderOptions options_;
  Pass make_pass(int64_t base_seed, int64_t sampler_seed, size_t position);
};

}  // namespace ember
