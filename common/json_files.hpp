// JSON state files that a killed process must never leave half-written (a NEB band saved every
// iteration, an image's result): written through write_file_atomically, read back as "absent"
// when missing or unparsable rather than trusted.
#pragma once

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/files.hpp"

namespace interphase {

/// Writes `j` to `path` through a temporary file and a rename: a killed engine leaves either the
/// old or the new file, never half of one.
inline void write_json_atomically(const std::filesystem::path& path, const nlohmann::json& j) {
    write_file_atomically(path, j.dump());
}

/// The parsed file, or nullopt when it is missing or not JSON (a torn file cannot exist with
/// atomic writes, but the disk is never trusted).
inline std::optional<nlohmann::json> read_json_file(const std::filesystem::path& path) {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    try {
        return nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception&) {
        return std::nullopt;
    }
}

}  // namespace interphase
