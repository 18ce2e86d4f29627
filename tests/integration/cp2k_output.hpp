// The final energy CP2K printed in an output file, in eV — read with plain regexes,
// independently of the plugin's parser, for tests that check our numbers against CP2K's own.
// With smearing it is the σ→0 energy E0 = F − ½(−TS) that Interphase reports: F from the last
// "ENERGY| Total FORCE_EVAL" line, −TS from the last "Electronic entropic energy:" line.
#pragma once

#include <doctest/doctest.h>

#include <filesystem>
#include <regex>
#include <string>

#include "common/units.hpp"
#include "test_paths.hpp"

namespace interphase::testing {

inline double cp2k_energy(const std::filesystem::path& out) {
    const std::string text = slurp(out);
    static const std::regex line(R"(ENERGY\| Total FORCE_EVAL \( QS \) energy \[a\.u\.\]:\s+(-?[0-9.]+))");
    double last = 0;
    bool found = false;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), line); it != std::sregex_iterator(); ++it) {
        last = std::stod((*it)[1].str());
        found = true;
    }
    REQUIRE_MESSAGE(found, out.string());
    static const std::regex entropic(R"(Electronic entropic energy:\s+(-?[0-9.]+))");
    double minus_ts = 0;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), entropic); it != std::sregex_iterator(); ++it)
        minus_ts = std::stod((*it)[1].str());
    return (last - 0.5 * minus_ts) * units::kHartreeToEV;
}

}  // namespace interphase::testing
