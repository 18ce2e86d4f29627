// Structure file formats behind one registry (Chemfiles' FormatFactory habit): each format
// lives in its own io_<format>.cpp and adds itself with one line in io.cpp
// (register_builtin_formats). The format is chosen from the file name (extension, or the VASP
// names POSCAR/CONTCAR) unless given explicitly.
#pragma once

#include <filesystem>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "common/registry.hpp"
#include "structures/structure.hpp"

namespace interphase::structures {

struct FileFormat {
    std::string name;                     ///< "poscar", "cif", "extxyz"
    std::string description;
    std::vector<std::string> extensions;  ///< lower-case, with dot: ".cif"
    std::vector<std::string> file_names;  ///< whole names that select the format: "POSCAR"
    /// Reads one structure; `source` names the file in errors (ParseError with line numbers).
    std::function<Structure(std::istream&, const std::string& source)> read;
    std::function<void(std::ostream&, const Structure&)> write;
};

/// Lookup, names() (registration order) and the duplicate check come from Registry<Info>.
class FormatRegistry : public Registry<FileFormat> {
public:
    static FormatRegistry& instance();
    /// Format by name, case-insensitive; throws InputError (source "--format") with a "did you
    /// mean" list for unknown names.
    const FileFormat& by_name(const std::string& name) const;
    /// Format for a path; throws InputError with the known extensions when none matches.
    const FileFormat& for_path(const std::filesystem::path& path) const;
private:
    FormatRegistry();
};

/// Reads a structure file; format from the name unless `format` is given. Validates the result
/// (singular lattice, NaN...) and throws ParseError/StructureError naming the file.
Structure read_structure(const std::filesystem::path& path, const std::optional<std::string>& format = {});
/// Writes atomically (temporary file + rename): an interrupted write never leaves half a file.
void write_structure(const std::filesystem::path& path, const Structure& s,
                     const std::optional<std::string>& format = {});
/// In-memory variants (used by tests and by the engine's store).
Structure read_structure_string(const std::string& text, const std::string& format, const std::string& source);
std::string write_structure_string(const Structure& s, const std::string& format);

// Registration hooks of the built-in formats (defined in io_<format>.cpp).
FileFormat poscar_format();
FileFormat cif_format();
FileFormat extxyz_format();

}  // namespace interphase::structures
