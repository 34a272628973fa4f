// Notes (design and measured numbers are in docs/data.md and bench/README.md):
// - Random draws mirror PyTorch 1.13 (torch/utils/data/): iter(DataLoader)
//   draws the worker base seed in _BaseDataLoaderIter.__init__; the shuffled
//   sampler draws its seed lazily, at the first next(), because
//   RandomSampler.__iter__ is a generator function.
// - num_workers > 0 keeps that timing (PyTorch's multi-process iterator
//   would draw the sampler seed already in iter(), while prefetching), so the
//   order and the global generator's state never depend on num_workers.
// - A batch is the source's collate of its B indices (window_source.cpp:
//   row copies from the one token buffer).
#include <algorithm>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <numeric>
#include <thread>
#include <utility>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/randperm.h>
#include <c10/util/Exception.h>

#include <ember/data/loader.hpp>
#include <ember/data/window_source.hpp>

namespace ember {

namespace {

// torch.empty((), dtype=torch.int64).random_().item() on the global CPU
// generator: a value in [0, 2^63 - 1]. The generator is named rather than
// defaulted (same thing) because GCC 12 with sanitizers warns
// -Wmaybe-uninitialized on the defaulted c10::optional<Generator>.
int64_t draw_int64_from_global_generator() {
  return at::empty({}, at::TensorOptions().dtype(at::kLong))
      .random_(at::detail::getDefaultCPUGenerator())
      .item<int64_t>();
}

}  // namespace

struct Loader::PassState {
  // Shared, read-only after construction.
  std::shared_ptr<const BatchSource> source;
  int64_t num_examples = 0;
  int64_t batch_size = 0;
  bool shuffle = false;
  size_t num_batches = 0;
  int64_t num_workers = 0;

  int64_t base_seed = -1;
  int64_t sampler_seed = -1;
  torch::Tensor order;   // (W,) int64 permutation once drawn (shuffle only)
  size_t position = 0;   // batches yielded
  bool started = false;  // first next() happened (sampler body ran)

  // Prefetching workers (num_workers > 0), started at the first next().
  std::vector<std::thread> workers;
  std::mutex mutex;
  std::condition_variable cv;
  std::map<size_t, Batch> ready;
  size_t next_to_produce = 0;
  bool stop = false;
  std::exception_ptr error;

  PassState() = default;
  PassState(const PassState&) = delete;
  PassState& operator=(const PassState&) = delete;
  ~PassState() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stop = true;
    }
    cv.notify_all();
    for (auto& t : workers) {
      t.join();
    }
  }

  // Batch b: examples [b*B, min((b+1)*B, N)) of the (shuffled) order.
  Batch make_batch(size_t b) const {
    const int64_t start = static_cast<int64_t>(b) * batch_size;
    const int64_t len = std::min(batch_size, num_examples - start);
    if (shuffle) return source->collate(order.data_ptr<int64_t>() + start, len);
    std::vector<int64_t> idx(static_cast<size_t>(len));
    std::iota(idx.begin(), idx.end(), start);
    return source->collate(idx.data(), len);
  }

  size_t prefetch_limit() const {
    return position + 2 * static_cast<size_t>(num_workers);
  }

  void worker_loop() {
    for (;;) {
      size_t b = 0;
      {
        std::unique_lock<std::mutex> lock(mutex);
        cv.wait(lock, [&] {
          return stop || error != nullptr || next_to_produce >= num_batches ||
                 next_to_produce < prefetch_limit();
        });
        if (stop || error != nullptr || next_to_produce >= num_batches) {
          return;
        }
        b = next_to_produce++;
      }
      try {
        Batch batch = make_batch(b);
        std::lock_guard<std::mutex> lock(mutex);
        ready.emplace(b, std::move(batch));
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (error == nullptr) {
          error = std::current_exception();
        }
      }
      cv.notify_all();
    }
  }

  void start() {
    started = true;
    if (shuffle && !order.defined()) {
      sampler_seed = draw_int64_from_global_generator();
      draw_order();
    }
    if (num_workers > 0 && position < num_batches) {
      next_to_produce = position;
      workers.reserve(static_cast<size_t>(num_workers));
      for (int64_t i = 0; i < num_workers; ++i) {
        workers.emplace_back([this] { worker_loop(); });
      }
    }
  }

  void draw_order() {
    // generator = torch.Generator(); generator.manual_seed(seed)
    // yield from torch.randperm(n, generator=generator).tolist()
    at::Generator gen =
        at::detail::createCPUGenerator(static_cast<uint64_t>(sampler_seed));
    order =
        at::randperm(num_examples, gen, at::TensorOptions().dtype(at::kLong));
  }

  std::optional<Batch> next() {
    if (!started) {
      start();
    }
    if (position >= num_batches) {
      return std::nullopt;
    }
    if (workers.empty()) {
      Batch batch = make_batch(position);
      ++position;
      return batch;
    }
    std::unique_lock<std::mutex> lock(mutex);
    cv.wait(lock, [&] { return error != nullptr || ready.count(position); });
    if (error != nullptr) {
      std::rethrow_exception(error);
    }
    auto it = ready.find(position);
    Batch batch = std::move(it->second);
    ready.erase(it);
    ++position;
    lock.unlock();
    cv.notify_all();
    return batch;
  }
};

Loader::Loader(GptDataset dataset, LoaderOptions options)
    : Loader(std::make_shared<WindowSource>(std::move(dataset)), options) {}

Loader::Loader(std::shared_ptr<const BatchSource> source, LoaderOptions options)
    : source_(std::move(source)), options_(options) {
  TORCH_CHECK_VALUE(
      options_.batch_size >= 1,
      "Loader: batch_size must be at least 1 (got ",
      options_.batch_size,
      ")");
  TORCH_CHECK_VALUE(
      options_.num_workers >= 0,
      "Loader: num_workers must be at least 0 (got ",
      options_.num_workers,
      ")");
}

const GptDataset& Loader::dataset() const {
  const auto* windows = dynamic_cast<const WindowSource*>(source_.get());
  TORCH_CHECK(windows != nullptr, "Loader: this loader has no GptDataset");
  return windows->dataset();
}

size_t Loader::num_batches() const {
  const size_t w = source_->size();
  const auto b = static_cast<size_t>(options_.batch_size);
  return options_.drop_last ? w / b : (w + b - 1) / b;
}

Loader::Pass Loader::make_pass(
    // NOLINTNEXTLINE(bugprone-easily-swappable-parameters)
    int64_t base_seed,
    int64_t sampler_seed,
    size_t position) {
  auto state = std::make_unique<PassState>();
  state->source = source_;
  state->num_examples = static_cast<int64_t>(source_->size());
  state->batch_size = options_.batch_size;
  state->shuffle = options_.shuffle;
  state->num_batches = num_batches();
  state->num_workers = options_.num_workers;
  state->base_seed = base_seed;
  state->position = position;
  if (options_.shuffle && sampler_seed >= 0) {
    state->sampler_seed = sampler_seed;
    state->draw_order();
  }
  return Pass(std::move(state));
}

Loader::Pass Loader::begin_pass() {
  // _BaseDataLoaderIter.__init__:
  // self._base_seed = torch.empty((), dtype=torch.int64).random_(
  //     generator=loader.generator).item()
  const int64_t base_seed = draw_int64_from_global_generator();
  return make_pass(base_seed, -1, 0);
}

Loader::Pass Loader::resume_pass(int64_t sampler_seed, size_t position) {
  TORCH_CHECK_VALUE(
      position <= num_batches(),
      "Loader: resume position out of range (got ",
      position,
      ", expected <= ",
      num_batches(),
      ")");
  TORCH_CHECK_VALUE(
      !options_.shuffle || sampler_seed >= 0,
      "Loader: resuming a shuffled pass needs its sampler seed (got ",
      sampler_seed,
      ", expected >= 0); hint: save Pass::sampler_seed() after the first "
      "batch");
  return make_pass(-1, sampler_seed, position);
}

Loader::Pass::Pass(std::unique_ptr<PassState> state)
    : state_(std::move(state)) {}
Loader::Pass::Pass(Pass&&) noexcept = default;
Loader::Pass& Loader::Pass::operator=(Pass&&) noexcept = default;
Loader::Pass::~Pass() = default;

std::optional<Batch> Loader::Pass::next() {
  return state_->next();
}

size_t Loader::Pass::position() const {
  return state_->position;
}

int64_t Loader::Pass::sampler_seed() const {
  return state_->sampler_seed;
}

int64_t Loader::Pass::base_seed() const {
  return state_->base_seed;
}

}  // namespace ember
