#include "common/text.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fmt/format.h>

namespace interphase::text {

std::size_t edit_distance(std::string_view a, std::string_view b) {
    // Optimal string alignment (Damerau–Levenshtein without repeated edits): a swap of two
    // neighbouring letters, the most common typo ("hpc" for "hcp"), counts as one edit.
    auto same = [](char x, char y) {
        return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
    };
    std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
    for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i)
        for (std::size_t j = 1; j <= b.size(); ++j) {
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (same(a[i - 1], b[j - 1]) ? 0 : 1)});
            if (i > 1 && j > 1 && same(a[i - 1], b[j - 2]) && same(a[i - 2], b[j - 1]))
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    return d[a.size()][b.size()];
}

std::string unknown_name_message(std::string_view what, std::string_view name,
                                 const std::vector<std::string>& known) {
    std::string best;
    std::size_t best_d = std::string::npos;
    for (const auto& k : known) {
        const auto d = edit_distance(name, k);
        if (d < best_d) { best_d = d; best = k; }
    }
    std::string msg = fmt::format("unknown {} '{}'", what, name);
    if (!best.empty() && best_d <= std::max<std::size_t>(2, name.size() / 3))
        msg += fmt::format("; did you mean '{}'?", best);
    msg += fmt::format(" (known: {})", fmt::join(known, ", "));
    return msg;
}

std::optional<double> parse_double(std::string_view token) {
    // strtod accepts Fortran-free forms like 1.5e-3; we additionally accept Fortran 'D' exponents.
    std::string s(trim(token));
    if (s.empty()) return std::nullopt;
    for (auto& c : s) if (c == 'D' || c == 'd') c = 'e';
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(s.c_str(), &end);
    if (end != s.c_str() + s.size() || errno == ERANGE || !std::isfinite(v)) return std::nullopt;
    return v;
}

std::optional<long long> parse_int(std::string_view token) {
    const std::string s = trim(token);
    long long v = 0;
    const char* first = s.data();
    if (!s.empty() && s[0] == '+') ++first;
    auto [ptr, ec] = std::from_chars(first, s.data() + s.size(), v);
    if (ec != std::errc() || ptr != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

std::vector<std::string> split_ws(std::string_view line) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
        std::size_t j = i;
        while (j < line.size() && !std::isspace(static_cast<unsigned char>(line[j]))) ++j;
        if (j > i) out.emplace_back(line.substr(i, j - i));
        i = j;
    }
    return out;
}

std::string trim(std::string_view s) {
    std::size_t b = 0, e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
    return std::string(s.substr(b, e - b));
}

std::string to_lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = byte(i);
    if (c < 0x80) return 1;
    std::size_t n = 0;
    char32_t cp = 0, min = 0;
    if ((c & 0xE0) == 0xC0) n = 2, cp = c & 0x1F, min = 0x80;
    else if ((c & 0xF0) == 0xE0) n = 3, cp = c & 0x0F, min = 0x800;
    else if ((c & 0xF8) == 0xF0) n = 4, cp = c & 0x07, min = 0x10000;
    else return 0;
    if (i + n > s.size()) return 0;
    for (std::size_t k = 1; k < n; ++k) {
        if ((byte(i + k) & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (byte(i + k) & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

bool is_valid_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t len = utf8_sequence_length(s, i);
        if (len == 0) return false;
        i += len;
    }
    return true;
}

namespace {
// C1 controls U+0080..U+009F are encoded as C2 80..C2 9F.
bool is_c1(std::string_view s, std::size_t i, std::size_t len) {
    return len == 2 && static_cast<unsigned char>(s[i]) == 0xC2 && static_cast<unsigned char>(s[i + 1]) < 0xA0;
}
}  // namespace

std::string printable(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        const std::size_t len = utf8_sequence_length(s, i);
        if (len == 0 || is_c1(s, i, len)) {
            for (std::size_t k = 0; k < std::max<std::size_t>(len, 1); ++k)
                out += fmt::format("\\x{:02x}", static_cast<unsigned char>(s[i + k]));
            i += std::max<std::size_t>(len, 1);
            continue;
        }
        if (c == '\n') out += "\\n";
        else if (c == '\t') out += "\\t";
        else if (c == '\r') out += "\\r";
        else if (c < 0x20 || c == 0x7F) out += fmt::format("\\x{:02x}", c);
        else out.append(s.substr(i, len));
        i += len;
    }
    return out;
}

std::optional<std::string> name_problem(std::string_view name, std::size_t max_bytes) {
    if (name.empty()) return "must not be empty";
    if (name.size() > max_bytes) return fmt::format("is {} bytes long; at most {} are allowed", name.size(), max_bytes);
    for (std::size_t i = 0; i < name.size();) {
        const std::size_t len = utf8_sequence_length(name, i);
        if (len == 0) return fmt::format("is not valid UTF-8 (byte {} is 0x{:02x})", i, static_cast<unsigned char>(name[i]));
        const auto c = static_cast<unsigned char>(name[i]);
        if ((len == 1 && (c < 0x20 || c == 0x7F)) || is_c1(name, i, len))
            return fmt::format("contains a control character at byte {} ('{}')", i, printable(name.substr(i, len)));
        i += len;
    }
    if (std::isspace(static_cast<unsigned char>(name.front())) || std::isspace(static_cast<unsigned char>(name.back())))
        return "must not start or end with a blank";
    return std::nullopt;
}

}  // namespace interphase::text
