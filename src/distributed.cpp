#include "ember/distributed.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <string>
#include <utility>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <fmt/core.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
// Gloo: LibTorch defines USE_C10D_GLOO when it was built with Gloo, but not
// every LibTorch ships Gloo's own headers (Debian's needs libgloo-dev).
#if defined(USE_C10D_GLOO) && __has_include(<gloo/algorithm.h>)
#define EMBER_WITH_GLOO 1
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef EMBER_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <ember/error.hpp>

namespace ember::dist {
namespace {

// Parses an environment variable as an integer in [lo, hi].
long env_int(const char* name, long fallback, long lo, long hi) {
  const char* raw = std::getenv(name);
  if (raw == nullptr || *raw == '\0') return fallback;
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(raw, &end, 10);
  if (errno != 0 || end == raw || *end != '\0' || v < lo || v > hi) {
    throw ConfigError(fmt::format(
        "environment {}: not an integer in [{}, {}] (got \"{}\")",
        name,
        lo,
        hi,
        raw));
  }
  return v;
}

[[maybe_unused]] bool is_loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

// c10d reports a dead peer or a timeout as c10::Error (or std::runtime_error
// from Gloo); turn both into one line that says what to do.
template <typename F>
auto collective(const char* what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const c10::Error& e) {
    throw Error(fmt::format(
        "distributed {}: {}; hint: another rank probably exited or stopped "
        "answering, see its log",
        what,
        e.msg()));
  } catch (const std::exception& e) {
    throw Error(fmt::format(
        "distributed {}: {}; hint: another rank probably exited or stopped "
        "answering, see its log",
        what,
        e.what()));
  }
}

}  // namespace

std::vector<std::string> available_backends() {
  std::vector<std::string> names;
#ifdef EMBER_WITH_GLOO
  names.emplace_back("gloo");
#endif
#ifdef EMBER_WITH_NCCL
  names.emplace_back("nccl");
#endif
  return names;
}

LaunchEnv LaunchEnv::from_env() {
  LaunchEnv env;
  if (std::getenv("WORLD_SIZE") == nullptr) return env;
  env.launched = true;
  env.world_size = static_cast<int>(env_int("WORLD_SIZE", 1, 1, 1 << 20));
  env.rank = static_cast<int>(env_int("RANK", 0, 0, env.world_size - 1));
  env.local_rank =
      static_cast<int>(env_int("LOCAL_RANK", env.rank, 0, 1 << 20));
  if (const char* a = std::getenv("MASTER_ADDR"); a && *a) {
    env.master_addr = a;
  } else if (env.world_size > 1) {
    throw ConfigError(
        "environment MASTER_ADDR: not set (WORLD_SIZE > 1); hint: launch "
        "with torchrun or set MASTER_ADDR and MASTER_PORT");
  }
  env.master_port =
      static_cast<uint16_t>(env_int("MASTER_PORT", 29500, 1, 65535));
  if (const char* s = std::getenv("TORCHELASTIC_USE_AGENT_STORE")) {
    env.agent_store = std::string(s) == "True";
  }
  return env;
}

struct ProcessGroup::Impl {
  std::string backend;
  int rank = 0;
  int size = 1;
  c10::intrusive_ptr<c10d::Store> store;
  c10::Device device{c10::kCPU};
#ifdef EMBER_WITH_GLOO
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
#endif
#ifdef EMBER_WITH_NCCL
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;
#endif

  template <typename Op>
  c10::intrusive_ptr<c10d::Work> run(Op&& op) {
#ifdef EMBER_WITH_NCCL
    if (nccl) return op(*nccl);
#endif
#ifdef EMBER_WITH_GLOO
    if (gloo) return op(*gloo);
#endif
    (void)op;
    throw Error("distributed: no process group backend");
  }
};

ProcessGroup::ProcessGroup(
    const LaunchEnv& env,
    const std::string& backend,
    std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->backend = backend;
  impl_->rank = env.rank;
  impl_->size = env.world_size;
  c10d::TCPStoreOptions opts;
  opts.port = env.master_port;
  opts.isServer = env.rank == 0 && !env.agent_store;
  opts.numWorkers = static_cast<size_t>(env.world_size);
  opts.waitWorkers = false;
  opts.timeout = timeout;
  try {
    auto tcp = c10::make_intrusive<c10d::TCPStore>(env.master_addr, opts);
    impl_->store = c10::make_intrusive<c10d::PrefixStore>(
        "ember", c10::static_intrusive_pointer_cast<c10d::Store>(tcp));
  } catch (const std::exception& e) {
    throw Error(fmt::format(
        "distributed rendezvous at {}:{} (rank {} of {}): {}; hint: check "
        "MASTER_ADDR/MASTER_PORT and that rank 0 is running",
        env.master_addr,
        env.master_port,
        env.rank,
        env.world_size,
        e.what()));
  }
  if (backend == "gloo") {
#ifdef EMBER_WITH_GLOO
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
        ifname && *ifname) {
      options->devices.push_back(
          c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    } else if (is_loopback(env.master_addr)) {
      options->devices.push_back(
          c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    } else {
      options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    impl_->gloo = collective("init (gloo)", [&] {
      return c10::make_intrusive<c10d::ProcessGroupGloo>(
          impl_->store, env.rank, env.world_size, options);
    });
#else
    throw ConfigError(
        "train.backend: gloo is not available in this build (LibTorch "
        "without Gloo or its headers); hint: install libgloo-dev, or use "
        "backend = \"nccl\" on CUDA");
#endif
  } else if (backend == "nccl") {
#ifdef EMBER_WITH_NCCL
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = timeout;
    impl_->nccl = collective("init (nccl)", [&] {
      return c10::make_intrusive<c10d::ProcessGroupNCCL>(
          impl_->store, env.rank, env.world_size, options);
    });
#else
    throw ConfigError(
        "train.backend: nccl is not available in this build (LibTorch "
        "without CUDA/NCCL); hint: use backend = \"gloo\"");
#endif
  } else {
    throw ConfigError(fmt::format(
        "train.backend: unknown backend \"{}\" (expected auto, gloo or nccl)",
        backend));
  }
}

ProcessGroup::~ProcessGroup() = default;

int ProcessGroup::rank() const {
  return impl_->rank;
}
int ProcessGroup::size() const {
  return impl_->size;
}
const std::string& ProcessGroup::backend() const {
  return impl_->backend;
}

void ProcessGroup::bind_device(const c10::Device& device) {
  impl_->device = device;
}

namespace {
// Runs `op` on `t`, or on a copy on `device` when the backend needs it there
// (NCCL and a CPU tensor), copying the result back.
template <typename Op>
void on_device(at::Tensor& t, const c10::Device& device, Op&& op) {
  if (!device.is_cuda() || t.device() == device) {
    op(t);
    return;
  }
  at::Tensor staged = t.to(device);
  op(staged);
  t.copy_(staged);
}
}  // namespace

void ProcessGroup::broadcast(std::vector<at::Tensor>& tensors, int root) {
  const bool nccl = impl_->backend == "nccl";
  collective("broadcast", [&] {
    c10d::BroadcastOptions opts;
    opts.rootRank = root;
    for (auto& t : tensors) {
      on_device(
          t, nccl ? impl_->device : c10::Device(c10::kCPU), [&](at::Tensor& x) {
            std::vector<at::Tensor> one{x};
            impl_->run([&](auto& pg) { return pg.broadcast(one, opts); })
                ->wait();
          });
    }
  });
}

void ProcessGroup::allreduce_sum(at::Tensor& tensor) {
  const bool nccl = impl_->backend == "nccl";
  collective("all-reduce", [&] {
    on_device(
        tensor,
        nccl ? impl_->device : c10::Device(c10::kCPU),
        [&](at::Tensor& x) {
          std::vector<at::Tensor> one{x};
          impl_->run([&](auto& pg) { return pg.allreduce(one); })->wait();
        });
  });
}

double ProcessGroup::allreduce_sum(double value) {
  at::Tensor t = at::full({1}, value, at::kDouble);
  allreduce_sum(t);
  return t.item<double>();
}

namespace {
class PendingWork : public ProcessGroup::Pending {
 public:
  explicit PendingWork(c10::intrusive_ptr<c10d::Work> work)
      : work_(std::move(work)) {}
  void wait() override {
    collective("all-reduce", [&] { work_->wait(); });
  }

 private:
  c10::intrusive_ptr<c10d::Work> work_;
};
}  // namespace

std::unique_ptr<ProcessGroup::Pending> ProcessGroup::allreduce_sum_async(
    at::Tensor& tensor) {
  return collective("all-reduce", [&] {
    std::vector<at::Tensor> one{tensor};
    return std::make_unique<PendingWork>(
        impl_->run([&](auto& pg) { return pg.allreduce(one); }));
  });
}

void ProcessGroup::barrier() {
  // A tiny all-reduce: works on every backend without device hints.
  allreduce_sum(0.0);
}

// --- GradientReducer ---------------------------------------------------------

struct GradientReducer::Impl {
  struct Slot {
    at::Tensor param;
    size_t bucket = 0;
    int64_t offset = 0;  // in elements, within the bucket buffer
    bool ready = false;
  };
  struct Bucket {
    at::Tensor buffer;  // flat, the params' dtype and device
    std::vector<size_t> slots;
    size_t num_ready = 0;
    std::unique_ptr<ProcessGroup::Pending> pending;
  };

  ProcessGroup* group = nullptr;
  std::vector<Slot> slots;
  std::vector<Bucket> buckets;
  double last_wait_s = 0.0;

  void launch(Bucket& b) {
    b.pending = group->allreduce_sum_async(b.buffer);
  }

  void on_grad(size_t i, const at::Tensor& grad) {
    Slot& s = slots[i];
    Bucket& b = buckets[s.bucket];
    b.buffer.narrow(0, s.offset, s.param.numel()).copy_(grad.reshape({-1}));
    if (!s.ready) {
      s.ready = true;
      if (++b.num_ready == b.slots.size()) launch(b);
    }
  }
};

GradientReducer::GradientReducer(
    ProcessGroup& group, std::vector<at::Tensor> params, size_t bucket_bytes)
    : impl_(std::make_unique<Impl>()) {
  impl_->group = &group;
  // Reverse order: backward reaches the last-registered layers first.
  std::reverse(params.begin(), params.end());
  size_t bucket_fill = bucket_bytes;  // forces a new bucket for the first
  for (auto& p : params) {
    const size_t bytes = static_cast<size_t>(p.numel()) * p.element_size();
    if (bucket_fill + bytes > bucket_bytes && bucket_fill > 0) {
      impl_->buckets.emplace_back();
      bucket_fill = 0;
    }
    Impl::Slot slot;
    slot.param = p;
    slot.bucket = impl_->buckets.size() - 1;
    slot.offset = 0;
    for (size_t j : impl_->buckets.back().slots) {
      slot.offset += impl_->slots[j].param.numel();
    }
    impl_->buckets.back().slots.push_back(impl_->slots.size());
    impl_->slots.push_back(slot);
    bucket_fill += bytes;
  }
  for (auto& b : impl_->buckets) {
    int64_t numel = 0;
    for (size_t j : b.slots) numel += impl_->slots[j].param.numel();
    const auto& first = impl_->slots[b.slots.front()].param;
    b.buffer = at::zeros({numel}, first.options());
  }
  for (size_t i = 0; i < impl_->slots.size(); ++i) {
    Impl* impl = impl_.get();
    impl_->slots[i].param.register_hook(
        [impl, i](const at::Tensor& grad) { impl->on_grad(i, grad); });
  }
}

GradientReducer::~GradientReducer() = default;

void GradientReducer::finish() {
  const auto start = std::chrono::steady_clock::now();
  const double world = static_cast<double>(impl_->group->size());
  for (auto& b : impl_->buckets) {
    if (!b.pending) {
      // Some parameter got no gradient this step: reduce zeros for it so
      // every rank still takes part in every bucket.
      for (size_t j : b.slots) {
        auto& s = impl_->slots[j];
        if (!s.ready) b.buffer.narrow(0, s.offset, s.param.numel()).zero_();
      }
      impl_->launch(b);
    }
  }
  for (auto& b : impl_->buckets) {
    b.pending->wait();
    b.pending.reset();
    b.buffer.div_(world);
    for (size_t j : b.slots) {
      auto& s = impl_->slots[j];
      at::Tensor avg =
          b.buffer.narrow(0, s.offset, s.param.numel()).view_as(s.param);
      if (s.param.grad().defined()) {
        s.param.mutable_grad().copy_(avg);
      } else {
        s.param.mutable_grad() = avg.clone();
      }
      s.ready = false;
    }
    b.num_ready = 0;
  }
  impl_->last_wait_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
}

double GradientReducer::last_wait_s() const {
  return impl_->last_wait_s;
}

size_t GradientReducer::num_buckets() const {
  return impl_->buckets.size();
}

}  // namespace ember::dist
