#include "ember/data/classification_dataset.hpp"

#include <algorithm>
#include <cstring>

#include <ATen/ops/empty.h>
#include <fmt/core.h>

#include <ember/text/tokenizer.hpp>
#include <ember/util/error.hpp>

namespace ember {

std::vector<std::vector<int64_t>> encode_texts(
    const std::vector<LabelledText>& texts,
    const Tokenizer& tok,
    const std::string& source) {
  std::vector<std::vector<int64_t>> out;
  out.reserve(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    try {
      const auto ids = tok.encode(texts[i].text);
      out.emplace_back(ids.begin(), ids.end());
    } catch (const Error& e) {
      throw ConfigError(fmt::format("{}: row {}: {}", source, i + 1, e.what()));
    }
  }
  return out;
}

int64_t longest_length(const std::vector<std::vector<int64_t>>& encoded) {
  size_t longest = 0;
  for (const auto& ids : encoded) longest = std::max(longest, ids.size());
  return static_cast<int64_t>(longest);
}

ClassificationSource::ClassificationSource(
    const std::vector<std::vector<int64_t>>& encoded,
    const std::vector<LabelledText>& texts,
    int64_t length,
    int64_t pad_id)
    : length_(length) {
  const auto len = static_cast<size_t>(length);
  ids_.assign(encoded.size() * len, pad_id);
  labels_.reserve(texts.size());
  for (size_t i = 0; i < encoded.size(); ++i) {
    const size_t n = std::min(encoded[i].size(), len);
    std::copy_n(encoded[i].begin(), n, ids_.begin() + i * len);
    labels_.push_back(texts[i].label);
  }
}

Batch ClassificationSource::collate(const int64_t* indices, int64_t n) const {
  auto inputs = at::empty({n, length_}, at::kLong);
  auto targets = at::empty({n}, at::kLong);
  auto* in = inputs.data_ptr<int64_t>();
  auto* tg = targets.data_ptr<int64_t>();
  const auto len = static_cast<size_t>(length_);
  for (int64_t r = 0; r < n; ++r) {
    const auto i = static_cast<size_t>(indices[r]);
    std::memcpy(in + r * length_, ids_.data() + i * len, len * sizeof(int64_t));
    tg[r] = labels_[i];
  }
  return Batch{inputs, targets};
}

}  // namespace ember
