// The config's keys as data (config_fields.cpp): for each key its section,
// name, type, the member of Config it fills and its valid range, in the
// order config_keys() and docs/configuration.md list them. Private to
// src/config/: config.cpp reads TOML and --set through this table.
#pragma once

#include <string>
#include <vector>

#include <ember/config/config.hpp>

namespace ember::detail {

enum class Kind { kInt, kFloat, kBool, kString };

// One config key: where it lives in Config, its type and its valid range.
struct Field {
  const char* section;
  const char* key;
  Kind kind;
  void* (*ref)(Config&);
  bool (*ok)(double);  // range check for numbers (ints as doubles)
  const char* range;   // "expected ..." text for the range error
  std::string name() const {
    return std::string(section) + "." + key;
  }
};

/// Every key, [data] then [model], [train], [run].
const std::vector<Field>& fields();

}  // namespace ember::detail
