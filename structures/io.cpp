#include "structures/io.hpp"

#include <cstdint>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "common/errors.hpp"
#include "common/text.hpp"

namespace interphase::structures {

FormatRegistry::FormatRegistry() : Registry("structure format") {
    // One line per built-in format.
    add(poscar_format());
    add(cif_format());
    add(extxyz_format());
}

FormatRegistry& FormatRegistry::instance() {
    static FormatRegistry registry;
    return registry;
}

const FileFormat& FormatRegistry::by_name(const std::string& name) const {
    // Names are registered in lower case; the message repeats the name as the user gave it.
    if (const FileFormat* f = find(text::to_lower(name))) return *f;
    return at(name, "--format", "");
}

const FileFormat& FormatRegistry::for_path(const std::filesystem::path& path) const {
    const std::string fname = path.filename().string();
    const std::string ext = text::to_lower(path.extension().string());
    for (const auto& f : entries()) {
        for (const auto& n : f.file_names)
            if (fname == n || fname.rfind(n + ".", 0) == 0 || fname.rfind(n + "_", 0) == 0) return f;
        for (const auto& e : f.extensions)
            if (ext == e) return f;
    }
    std::vector<std::string> known;
    for (const auto& f : entries()) {
        for (const auto& e : f.extensions) known.push_back(e);
        for (const auto& n : f.file_names) known.push_back(n);
    }
    throw InputError(path.string(), "",
                     "cannot tell the structure format from the file name (known: " +
                         [&] { std::string s; for (auto& k : known) s += (s.empty() ? "" : ", ") + k; return s; }() + ")");
}

namespace {

/// `text` with every byte that is not part of valid UTF-8 replaced by U+FFFD. Titles, labels and
/// metadata end up in JSON (the store, summaries), which must be UTF-8; an old file with a
/// Latin-1 "Å" in its title should still read, so bad bytes are replaced rather than refused.
std::string valid_utf8(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        bool ok = n > 0 && i + n <= text.size();
        for (std::size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(text[i + k]) >> 6) == 0x2;
        if (ok && n > 1) {
            // Overlong forms, UTF-16 surrogates and code points beyond U+10FFFF are invalid too.
            std::uint32_t cp = c & (0xFF >> (n + 1));
            for (std::size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
            const std::uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
            ok = cp >= min[n] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
        }
        if (ok) {
            out.append(text, i, n);
            i += n;
        } else {
            out += "\xEF\xBF\xBD";
            ++i;
        }
    }
    return out;
}

nlohmann::json valid_utf8(const nlohmann::json& j) {
    if (j.is_string()) return valid_utf8(j.get<std::string>());
    if (j.is_array()) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& x : j) out.push_back(valid_utf8(x));
        return out;
    }
    if (j.is_object()) {
        nlohmann::json out = nlohmann::json::object();
        for (const auto& [k, v] : j.items()) out[valid_utf8(k)] = valid_utf8(v);
        return out;
    }
    return j;
}

/// Every reader's result goes through here: text fields made valid UTF-8, then validated.
Structure finish(Structure s, const std::string& source) {
    s.title = valid_utf8(s.title);
    for (auto& a : s.atoms()) a.label = valid_utf8(a.label);
    s.info = valid_utf8(s.info);
    s.validate(source, 0.0);
    return s;
}

}  // namespace

Structure read_structure(const std::filesystem::path& path, const std::optional<std::string>& format) {
    const auto& f = format ? FormatRegistry::instance().by_name(*format) : FormatRegistry::instance().for_path(path);
    std::ifstream in(path);
    if (!in) throw InputError(path.string(), "", "cannot open structure file");
    return finish(f.read(in, path.string()), path.string());
}

Structure read_structure_string(const std::string& text, const std::string& format, const std::string& source) {
    std::istringstream in(text);
    return finish(FormatRegistry::instance().by_name(format).read(in, source), source);
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
