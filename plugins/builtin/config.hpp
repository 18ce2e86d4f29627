// Reading a builtin potential's settings from the workflow's `calculator:` block (JSON after
// the YAML loader): unknown keys get a "did you mean" list, wrong types and out-of-range
// values an InputError naming the field as the user wrote it ("calculator.sigma").
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace interphase::plugins::builtin::config {

/// The field name in messages: "calculator." + key.
std::string field(const std::string& key);

/// Throws InputError unless `config` is null or an object whose keys are all in `known`
/// ("code" is the registry's and always allowed).
void check_keys(const nlohmann::json& config, const std::vector<std::string>& known, const std::string& what,
                const std::string& source);

/// A finite number, or `fallback` when the key is absent.
double number(const nlohmann::json& config, const std::string& key, double fallback, const std::string& source);
/// A number > 0 (or >= 0 with allow_zero), or `fallback` when absent.
double positive(const nlohmann::json& config, const std::string& key, double fallback, const std::string& source,
                bool allow_zero = false);
/// A boolean, or `fallback` when absent.
bool boolean(const nlohmann::json& config, const std::string& key, bool fallback, const std::string& source);

}  // namespace interphase::plugins::builtin::config
