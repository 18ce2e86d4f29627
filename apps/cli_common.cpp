// Helpers shared by the command files.
#include <algorithm>
#include <fmt/format.h>
#include <iostream>

#include "apps/command.hpp"
#include "common/errors.hpp"
#include "common/text.hpp"
#include "structures/io.hpp"
#include "structures/prototypes.hpp"

namespace fs = std::filesystem;

namespace interphase::cli {

structures::Structure load_bulk(const std::string& phase_or_file) {
    if (fs::exists(phase_or_file)) return structures::read_structure(phase_or_file);
    return structures::build_bulk(phase_or_file);
}

std::array<int, 2> parse_supercell(std::string text, const std::string& source, const std::string& field) {
    const std::string original = text;
    std::replace(text.begin(), text.end(), ',', ' ');
    const auto tokens = text::split_ws(text);
    std::array<int, 2> sc{0, 0};
    for (std::size_t i = 0; i < tokens.size() && i < 2; ++i) sc[i] = static_cast<int>(text::parse_int(tokens[i]).value_or(0));
    if (tokens.size() != 2 || sc[0] < 1 || sc[1] < 1 || sc[0] > 50 || sc[1] > 50)
        throw InputError(source, field, "'" + original + "' must be two integers 1..50, e.g. 2,2");
    return sc;
}

void report_written(const fs::path& out, const structures::Structure& s) {
    std::cout << fmt::format("wrote {} ({}, {} atoms)\n", out.string(), s.formula(), s.size());
}

}  // namespace interphase::cli
