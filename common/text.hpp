// Small text helpers used across Interphase: "did you mean" suggestions for registries and
// strict number parsing that reports what it could not read.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace interphase::text {

/// Levenshtein distance, case-insensitive.
std::size_t edit_distance(std::string_view a, std::string_view b);

/// "unknown X 'name'; did you mean 'y'? known: a, b, c" — for registry look-ups.
std::string unknown_name_message(std::string_view what, std::string_view name,
                                 const std::vector<std::string>& known);

/// Parses a whole token as a finite double; nullopt on trailing junk, NaN, inf or overflow.
std::optional<double> parse_double(std::string_view token);
/// Parses a whole token as an integer; nullopt on junk or overflow.
std::optional<long long> parse_int(std::string_view token);

/// Splits on runs of whitespace.
std::vector<std::string> split_ws(std::string_view line);
std::string trim(std::string_view s);
std::string to_lower(std::string_view s);

}  // namespace interphase::text
