#include "structures/io.hpp"

#include <fstream>
#include <sstream>
#include <unistd.h>

#include "common/errors.hpp"
#include "common/text.hpp"

namespace interphase::structures {

FormatRegistry::FormatRegistry() {
    // One line per built-in format.
    add(poscar_format());
    add(cif_format());
    add(extxyz_format());
}

FormatRegistry& FormatRegistry::instance() {
    static FormatRegistry registry;
    return registry;
}

void FormatRegistry::add(FileFormat format) { formats_.push_back(std::move(format)); }

std::vector<std::string> FormatRegistry::names() const {
    std::vector<std::string> n;
    for (const auto& f : formats_) n.push_back(f.name);
    return n;
}

const FileFormat& FormatRegistry::by_name(const std::string& name) const {
    for (const auto& f : formats_)
        if (f.name == text::to_lower(name)) return f;
    throw InputError("--format", "", text::unknown_name_message("structure format", name, names()));
}

const FileFormat& FormatRegistry::for_path(const std::filesystem::path& path) const {
    const std::string fname = path.filename().string();
    const std::string ext = text::to_lower(path.extension().string());
    for (const auto& f : formats_) {
        for (const auto& n : f.file_names)
            if (fname == n || fname.rfind(n + ".", 0) == 0 || fname.rfind(n + "_", 0) == 0) return f;
        for (const auto& e : f.extensions)
            if (ext == e) return f;
    }
    std::vector<std::string> known;
    for (const auto& f : formats_) {
        for (const auto& e : f.extensions) known.push_back(e);
        for (const auto& n : f.file_names) known.push_back(n);
    }
    throw InputError(path.string(), "",
                     "cannot tell the structure format from the file name (known: " +
                         [&] { std::string s; for (auto& k : known) s += (s.empty() ? "" : ", ") + k; return s; }() + ")");
}

Structure read_structure(const std::filesystem::path& path, const std::optional<std::string>& format) {
    const auto& f = format ? FormatRegistry::instance().by_name(*format) : FormatRegistry::instance().for_path(path);
    std::ifstream in(path);
    if (!in) throw InputError(path.string(), "", "cannot open structure file");
    Structure s = f.read(in, path.string());
    s.validate(path.string(), 0.0);
    return s;
}

Structure read_structure_string(const std::string& text, const std::string& format, const std::string& source) {
    std::istringstream in(text);
    Structure s = FormatRegistry::instance().by_name(format).read(in, source);
    s.validate(source, 0.0);
    return s;
}

std::string write_structure_string(const Structure& s, const std::string& format) {
    std::ostringstream out;
    FormatRegistry::instance().by_name(format).write(out, s);
    return out.str();
}

void write_structure(const std::filesystem::path& path, const Structure& s, const std::optional<std::string>& format) {
    const auto& f = format ? FormatRegistry::instance().by_name(*format) : FormatRegistry::instance().for_path(path);
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
    const auto tmp = std::filesystem::path(path.string() + ".tmp." + std::to_string(::getpid()));
    {
        std::ofstream out(tmp);
        if (!out) throw StorageError("cannot write " + tmp.string());
        f.write(out, s);
        out.flush();
        if (!out) throw StorageError("write failed: " + tmp.string());
    }
    std::filesystem::rename(tmp, path);
}

}  // namespace interphase::structures
