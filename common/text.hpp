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

/// Length in bytes of the valid UTF-8 sequence starting at s[i], or 0 if it is not valid
/// (overlong forms, surrogates and code points above U+10FFFF are invalid).
std::size_t utf8_sequence_length(std::string_view s, std::size_t i);

/// Whether every byte of `s` belongs to a valid UTF-8 sequence (JSON, HDF5 strings and the
/// store need that; nlohmann::json throws on anything else).
bool is_valid_utf8(std::string_view s);

/// `s` with control characters (C0, DEL, C1) and invalid UTF-8 escaped as \n, \t, \xNN: one
/// printable line for a terminal or a log, whatever a file held. Backslashes stay as they are,
/// so escaping twice changes nothing (messages quote names that were escaped already).
std::string printable(std::string_view s);

/// Why `name` cannot name something that reaches folders, HDF5 groups, batch scripts and
/// terminals (a workflow, a host, a task), or nullopt if it can: empty, longer than
/// `max_bytes`, not UTF-8, a control character, or leading/trailing blanks.
std::optional<std::string> name_problem(std::string_view name, std::size_t max_bytes);

}  // namespace interphase::text
