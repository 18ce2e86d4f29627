// Writing files that a killed process or a full disk must never leave half-written: the text
// goes to a temporary file beside the target, which replaces the target by a rename only once
// it is complete (a rename within one folder is atomic on POSIX file systems).
#pragma once

#include <filesystem>
#include <string>

namespace interphase {

/// Writes `text` to `target` through `target.tmp` and a rename. Throws StorageError naming the
/// file and the system's reason (permission, disk full...); the target is then left untouched.
void write_file_atomically(const std::filesystem::path& target, const std::string& text);

}  // namespace interphase
