// Paths the tests need: the source tree, the shared fixtures, the built CLI, scratch folders.
#pragma once
#include <filesystem>
#include <string>
#include <unistd.h>

namespace interphase::testing {
inline std::filesystem::path source_dir() { return INTERPHASE_SOURCE_DIR; }
inline std::filesystem::path fixtures_dir() { return INTERPHASE_FIXTURES_DIR; }
inline std::filesystem::path cli() { return INTERPHASE_BINARY; }
/// A fresh scratch folder under the test's working directory, removed first if it exists.
inline std::filesystem::path scratch(const std::string& name) {
    auto p = std::filesystem::current_path() / "scratch" / (name + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(p);
    std::filesystem::create_directories(p);
    return p;
}
}  // namespace interphase::testing
