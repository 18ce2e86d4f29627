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

}  // namespace interphase::text
