#include "ember/nn/prefix_cache.hpp"

#include <vector>

#include <ATen/ops/cat.h>
#include <ATen/ops/tensor.h>
#include <c10/util/Exception.h>

namespace ember {

PrefixCache::PrefixCache(int64_t blocks, int64_t budget_bytes)
    : blocks_(blocks), budget_(budget_bytes) {
  TORCH_CHECK_VALUE(
      blocks >= 1 && budget_bytes >= 0,
      "PrefixCache: blocks must be >= 1 and budget_bytes >= 0 (got ",
      blocks,
      ", ",
      budget_bytes,
      ")");
}

namespace {
thread_local bool row_alone = false;
}  // namespace

RowAloneLinears::RowAloneLinears() : before_(row_alone) {
  row_alone = true;
}

RowAloneLinears::~RowAloneLinears() {
  row_alone = before_;
}

bool row_alone_linears() {
  return row_alone;
}

at::Tensor PrefixCache::rows(
    const at::Tensor& ids,
    const std::function<at::Tensor(const at::Tensor&)>& compute) {
  TORCH_CHECK(
      ids.dim() == 2 && ids.scalar_type() == at::kLong,
      "PrefixCache: ids must be (B, T) int64 (got shape ",
      ids.sizes(),
      ")");
  const auto host = ids.to(at::kCPU).contiguous();
  const int64_t b = ids.size(0);
  const int64_t t = ids.size(1);
  const auto* data = host.data_ptr<int64_t>();
  std::vector<std::string> keys;
  std::vector<at::Tensor> out(static_cast<size_t>(b));
  std::vector<int64_t> missed;
  for (int64_t r = 0; r < b; ++r) {
    keys.emplace_back(
        reinterpret_cast<const char*>(data + r * t),
        static_cast<size_t>(t) * sizeof(int64_t));
    const auto it = kept_.find(keys.back());
    if (it == kept_.end()) {
      missed.push_back(r);
    } else {
      out[static_cast<size_t>(r)] = it->second;
      ++stats_.hits;
    }
  }
  if (!missed.empty())
    keep(keys, missed, out, compute_missed(ids, missed, compute));
  return at::cat(out, 0);
}

at::Tensor PrefixCache::compute_missed(
    const at::Tensor& ids,
    const std::vector<int64_t>& missed,
    const std::function<at::Tensor(const at::Tensor&)>& compute) {
  const RowAloneLinears alone;
  if (static_cast<int64_t>(missed.size()) == ids.size(0)) return compute(ids);
  const auto index = at::tensor(missed, ids.options().dtype(at::kLong));
  return compute(ids.index_select(0, index));
}

// Each missed row into `out`, and into the cache while the budget lasts (a
// copy: a view would hold the whole computed batch).
void PrefixCache::keep(
    std::vector<std::string>& keys,
    const std::vector<int64_t>& missed,
    std::vector<at::Tensor>& out,
    const at::Tensor& computed) {
  for (size_t i = 0; i < missed.size(); ++i) {
    const auto r = static_cast<size_t>(missed[i]);
    auto row = computed.narrow(0, static_cast<int64_t>(i), 1);
    ++stats_.misses;
    const int64_t bytes =
        row.numel() * static_cast<int64_t>(row.element_size());
    if (stats_.bytes + bytes <= budget_ && kept_.count(keys[r]) == 0) {
      row = row.clone();
      kept_.emplace(std::move(keys[r]), row);
      ++stats_.kept;
      stats_.bytes += bytes;
    }
    out[r] = row;
  }
}

}  // namespace ember
