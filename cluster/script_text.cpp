#include "cluster/script_text.hpp"

#include <algorithm>
#include <cstdint>
#include <fmt/format.h>

#include "common/errors.hpp"

namespace interphase::cluster {

namespace {

bool plain_char(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '/' || c == '+' || c == '=' || c == ':' || c == ',' || c == '@' || c == '%' || c == '-';
}

bool plain(std::string_view s) {
    if (s.empty()) return false;
    for (unsigned char c : s)
        if (!plain_char(c)) return false;
    return true;
}

bool control(unsigned char c) { return c < 0x20 || c == 0x7f; }

std::uint32_t fnv1a(std::string_view s) {
    std::uint32_t h = 2166136261u;
    for (unsigned char c : s) h = (h ^ c) * 16777619u;
    return h;
}

}  // namespace

std::string shell_word(std::string_view value) {
    if (plain(value)) return std::string(value);
    std::string out = "'";
    for (char c : value) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

std::string comment_text(std::string_view text) {
    std::string out;
    for (unsigned char c : text) {
        if (c == '\n') out += "\\n";
        else if (c == '\r') out += "\\r";
        else if (c == '\t') out += "\\t";
        else if (control(c)) out += fmt::format("\\x{:02x}", c);
        else out += static_cast<char>(c);
    }
    return out;
}

void require_printable(std::string_view value, const std::string& source, const std::string& field) {
    for (std::size_t i = 0; i < value.size(); ++i) {
        const auto c = static_cast<unsigned char>(value[i]);
        if (!control(c)) continue;
        // A #SBATCH/#PBS/#BSUB line is a comment to bash: after a line break, the rest of the
        // value would be a command of the batch script.
        throw InputError(source, field,
                         fmt::format("'{}' holds the control character {} at byte {}; a batch script line cannot "
                                     "carry it (the line would end there and the rest run as a command)",
                                     comment_text(value), comment_text(value.substr(i, 1)), i));
    }
}

void require_variable_name(std::string_view name, const std::string& source, const std::string& field) {
    bool ok = !name.empty() && !(name[0] >= '0' && name[0] <= '9');
    for (unsigned char c : name) ok = ok && ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
    if (!ok)
        throw InputError(source, field,
                         fmt::format("'{}' is not a variable name ([A-Za-z_][A-Za-z0-9_]*); it would be written into "
                                     "an `export` line of the batch script", comment_text(name)));
}

std::string directive_value(DirectiveSyntax syntax, std::string_view value, const std::string& source,
                            const std::string& field) {
    require_printable(value, source, field);
    if (value.empty()) throw InputError(source, field, "empty value for a batch script directive");
    if (plain(value)) return std::string(value);
    std::string out = "\"";
    for (char c : value) {
        if (c == '"' || c == '\\') {
            if (syntax != DirectiveSyntax::Slurm)
                throw InputError(source, field,
                                 fmt::format("'{}' holds {}, which a {} directive line cannot carry", comment_text(value),
                                             c, syntax == DirectiveSyntax::Pbs ? "#PBS" : "#BSUB"));
            out += '\\';  // sbatch's tokenizer takes the character after a backslash as it is
        }
        out += c;
    }
    return out + "\"";
}

std::string slurm_filename_literal(std::string_view path) {
    std::string out;
    for (char c : path) out += c == '%' ? std::string("%%") : std::string(1, c);
    return out;
}

std::string safe_job_name(std::string_view name, std::size_t max_length) {
    max_length = std::max<std::size_t>(max_length, 10);
    const auto letter = [](unsigned char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); };
    const auto allowed = [&](unsigned char c) { return letter(c) || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'; };
    bool safe = !name.empty() && name.size() <= max_length && letter(static_cast<unsigned char>(name[0]));
    for (unsigned char c : name) safe = safe && allowed(c);
    if (safe) return std::string(name);
    std::string base = name.empty() || !letter(static_cast<unsigned char>(name[0])) ? "j" : "";
    for (unsigned char c : name) base += allowed(c) ? static_cast<char>(c) : '_';
    const std::string hash = fmt::format("-{:08x}", fnv1a(name));
    if (base.size() > max_length - hash.size()) base.resize(max_length - hash.size());
    return base + hash;
}

}  // namespace interphase::cluster
