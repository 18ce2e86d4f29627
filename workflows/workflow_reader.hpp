// The tools a workflow kind uses to read its own keys of a workflow file: typed getters that
// put FILE:LINE and the field in every error, YAML -> JSON for plugin and driver settings,
// Miller indices, structure files (read beside the workflow, or from the run folder's copies
// on a resume) and name checks. See docs/extending.md, "A workflow kind".
#pragma once

#include <array>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/text.hpp"
#include "common/yaml_reader.hpp"

namespace interphase::workflows {

// Reads workflow YAML nodes with the file and line in every error message.
class WorkflowReader : public yaml::Reader {
public:
    using yaml::Reader::Reader;
    template <class T>
    T get(const YAML::Node& n, const std::string& field, const char* type_name) const {
        try {
            return n.as<T>();
        } catch (const YAML::Exception&) {
            fail(n, field, fmt::format("expected {}, got '{}'", type_name, YAML::Dump(n)));
        }
    }
    std::string str(const YAML::Node& n, const std::string& f) const {
        auto s = get<std::string>(n, f, "a string");
        if (!text::is_valid_utf8(s)) fail(n, f, fmt::format("'{}' is not valid UTF-8", text::printable(s)));
        return s;
    }
    int integer(const YAML::Node& n, const std::string& f) const { return get<int>(n, f, "an integer"); }
    double number(const YAML::Node& n, const std::string& f) const {
        const double v = get<double>(n, f, "a number");
        if (!std::isfinite(v)) fail(n, f, "must be a finite number");
        return v;
    }
};

/// Where the structure files a workflow names are read from: beside the workflow file, or, on a
/// resume, the run folder's own copies (so an edit of the original after the run started cannot
/// silently change what the run computes).
struct InputFiles {
    std::filesystem::path base;                 ///< relative paths are relative to the workflow file
    std::filesystem::path copies;               ///< RUN_DIR/inputs, or empty
    std::vector<std::filesystem::path>* read;   ///< every file named, as resolved
};

/// Plugin settings and driver options as JSON (strings checked to be UTF-8 where the line is known).
nlohmann::json to_json(const YAML::Node& n, const WorkflowReader& r, const std::string& field);
/// [h, k, l] or "hkl"/"h,k,l".
std::array<int, 3> read_miller(const WorkflowReader& r, const YAML::Node& n, const std::string& field);
/// Reads the structure file named by `n` (JSON form, title defaulting to the file's stem) and
/// records it in `files.read`; `source` receives its absolute path (provenance, hash).
nlohmann::json read_structure_file(const WorkflowReader& r, const YAML::Node& n, const std::string& field,
                                   const InputFiles& files, std::string& source);
/// Names reach folders, HDF5 groups, batch scripts and terminals: printable UTF-8, bounded.
void check_name(const WorkflowReader& r, const YAML::Node& n, const std::string& field, const std::string& name);

}  // namespace interphase::workflows
