// The config's keys as data (config_fields.cpp): for each key its section,
// name, type, the member of Config it fills and its valid range, in the
// order config_keys() and docs/configuration.md list them. Private to
// src/config/: config.cpp reads TOML and --set through this table.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <ember/config/config.hpp>

namespace ember::detail {

enum class Kind { kInt, kFloat, kBool, kString, kStrings };

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

// After parsing (config_checks.cpp), `explicit_keys` being the keys the
// file and --set gave: a preset's model keys, then the data format's
// defaults, where not given; then the checks of more than one key or of a
// string's value. Each throws ConfigError naming `source`.
void apply_preset(
    Config& c,
    const std::set<std::string>& explicit_keys,
    std::string_view source);
void apply_format_defaults(
    Config& c, const std::set<std::string>& explicit_keys);
void validate(const Config& c, std::string_view source);

}  // namespace ember::detail
