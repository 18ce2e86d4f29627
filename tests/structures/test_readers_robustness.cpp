// Reader robustness: every structure reader (POSCAR, CIF, extended XYZ) turns truncated files,
// NaN and infinities, negative occupancies, huge numbers and mangled lines into a ParseError,
// InputError or StructureError whose message names the file (and, for a ParseError, a line
// that exists), never a crash, a hang, another exception type or a structure with non-finite or
// absurd numbers in it. The libFuzzer targets in tests/fuzz/ explore the same contract at
// random; the inputs here are the systematic cases plus every crash those fuzzers found.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <sstream>
#include <string>
#include <vector>

#include "common/errors.hpp"
#include "common/text.hpp"
#include "structures/io.hpp"

using namespace interphase;
using namespace interphase::structures;

namespace {

const char* kPoscar = R"(Li2S with selective dynamics
   1.0
     5.7080000000000002    0.0000000000000000    0.0000000000000000
     0.0000000000000000    5.7080000000000002    0.0000000000000000
     0.0000000000000000    0.0000000000000000    5.7080000000000002
   S    Li
   2     2
Selective dynamics
Direct
  0.0000000000000000  0.0000000000000000  0.0000000000000000   F F F
  0.5000000000000000  0.5000000000000000  0.0000000000000000   T T T
  0.2500000000000000  0.2500000000000000  0.2500000000000000   T T T
  0.7500000000000000  0.7500000000000000  0.2500000000000000   F F T
)";

const char* kPoscarCartesian = R"(Al fcc, volume scale, Cartesian
  -66.43
  4.05 0 0
  0 4.05 0
  0 0 4.05
Al
4
Cartesian
0 0 0
2.025 2.025 0
2.025 0 2.025
0 2.025 2.025
)";

// Rock salt LiCl from its asymmetric unit: two sites, operations listed, occupancies, s.u.s.
const char* kCif = R"(data_LiCl
_cell_length_a 5.129(2)
_cell_length_b 5.129(2)
_cell_length_c 5.129(2)
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'F m -3 m'
loop_
_symmetry_equiv_pos_as_xyz
'x, y, z'
'-x, -y, -z'
'x, y+1/2, z+1/2'
'x+1/2, y, z+1/2'
'x+1/2, y+1/2, z'
'y, z, x'
'z, x, y'
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
Li1 Li+ 0.0 0.0 0.0 1.0
Cl1 Cl- 0.5 0.5 0.5 0.95
)";

// A P1 file without symmetry loop, an oblique cell.
const char* kCifP1 = R"(data_oblique
_cell_length_a 4.1
_cell_length_b 5.2
_cell_length_c 6.3
_cell_angle_alpha 80
_cell_angle_beta 95
_cell_angle_gamma 110
loop_
_atom_site_label
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
Li1 0.1 0.2 0.3
S1 0.6 0.7 0.8
)";

const char* kExtxyz = "3\n"
                      "Lattice=\"5.0 0.0 0.0 0.0 6.0 0.0 0.5 0.0 7.0\" Properties=species:S:1:pos:R:3:fixed:L:1:layer:I:1:label:S:1 "
                      "energy=-12.5 miller=\"1 1 1\" pbc=\"T T F\"\n"
                      "Li 0.1 0.2 0.3 T 0 A\n"
                      "S  2.5 3.0 3.5 F 1 B\n"
                      "Li 4.0 1.0 6.0 F 2 _\n";

struct Sample {
    std::string name, format, text;
};

std::vector<Sample> samples() {
    return {{"poscar", "poscar", kPoscar},
            {"poscar-cartesian", "poscar", kPoscarCartesian},
            {"cif", "cif", kCif},
            {"cif-p1", "cif", kCifP1},
            {"extxyz", "extxyz", kExtxyz}};
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) out.push_back(line);
    return out;
}

std::string join_lines(const std::vector<std::string>& lines, std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n && i < lines.size(); ++i) out += lines[i] + "\n";
    return out;
}

enum class Outcome { Parsed, ParseErr, InputErr, StructureErr };

/// Reads `text`; any exception other than the three typed errors fails the test. A parsed
/// structure must be finite and of sane size; every message must name the source, and a
/// ParseError's line must lie within the file (or one past its end).
Outcome read_outcome(const std::string& text, const std::string& format, std::string* message = nullptr) {
    const std::string source = "case." + format;
    const std::size_t nlines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
    try {
        const Structure s = read_structure_string(text, format, source);
        CHECK(s.lattice().allFinite());
        CHECK(s.lattice().cwiseAbs().maxCoeff() <= 1e6);
        for (std::size_t i = 0; i < s.size(); ++i) {
            CHECK(s[i].frac.allFinite());
            CHECK(s[i].frac.cwiseAbs().maxCoeff() <= 1e6);
        }
        return Outcome::Parsed;
    } catch (const ParseError& e) {
        if (message) *message = e.what();
        CHECK(std::string(e.what()).find(source) != std::string::npos);
        CHECK(e.line() <= nlines + 1);
        return Outcome::ParseErr;
    } catch (const InputError& e) {
        if (message) *message = e.what();
        CHECK(std::string(e.what()).find(source) != std::string::npos);
        return Outcome::InputErr;
    } catch (const StructureError& e) {
        if (message) *message = e.what();
        CHECK(std::string(e.what()).find(source) != std::string::npos);
        return Outcome::StructureErr;
    } catch (const std::exception& e) {
        FAIL_CHECK(format << ": untyped exception '" << e.what() << "' for input:\n" << text);
    }
    return Outcome::Parsed;
}

/// Offsets of the whitespace-separated tokens of `text` that parse as numbers (CIF values with a
/// standard uncertainty included); quoted strings (CIF symbols and operations, extxyz comment
/// values) are skipped whole.
std::vector<std::pair<std::size_t, std::size_t>> number_tokens(const std::string& text) {
    std::vector<std::pair<std::size_t, std::size_t>> out;
    std::size_t i = 0;
    while (i < text.size()) {
        if (text[i] == '"' || text[i] == '\'') {
            const auto close = text.find(text[i], i + 1);
            i = close == std::string::npos ? text.size() : close + 1;
            continue;
        }
        if (std::isspace(static_cast<unsigned char>(text[i]))) {
            ++i;
            continue;
        }
        std::size_t j = i;
        while (j < text.size() && !std::isspace(static_cast<unsigned char>(text[j]))) ++j;
        std::string tok = text.substr(i, j - i);
        if (const auto p = tok.find('('); p != std::string::npos) tok.erase(p);
        if (text::parse_double(tok)) out.emplace_back(i, j - i);
        i = j;
    }
    return out;
}

}  // namespace

TEST_CASE("every line-truncated POSCAR and extended XYZ fails at the first missing line") {
    for (const auto& s : samples()) {
        if (s.format == "cif") continue;
        CAPTURE(s.name);
        const auto lines = lines_of(s.text);
        for (std::size_t n = 0; n < lines.size(); ++n) {
            CAPTURE(n);
            std::string msg;
            REQUIRE(read_outcome(join_lines(lines, n), s.format, &msg) == Outcome::ParseErr);
            CHECK(msg.find(fmt::format("case.{}:{}:", s.format, n + 1)) != std::string::npos);
            CHECK(msg.find("unexpected end of file") != std::string::npos);
        }
        CHECK(read_outcome(s.text, s.format) == Outcome::Parsed);
    }
}

TEST_CASE("line-truncated CIFs either parse (cut between rows) or fail with a ParseError") {
    for (const auto& s : samples()) {
        if (s.format != "cif") continue;
        CAPTURE(s.name);
        const auto lines = lines_of(s.text);
        int parsed = 0;
        for (std::size_t n = 0; n < lines.size(); ++n) {
            CAPTURE(n);
            const auto out = read_outcome(join_lines(lines, n), s.format);
            CHECK(out != Outcome::StructureErr);
            parsed += out == Outcome::Parsed;
        }
        // Cut after the first atom row: a valid file with fewer atoms. An atom loop without rows
        // is an error, not an empty crystal.
        CHECK(parsed == 1);
    }
}

TEST_CASE("every byte-truncated file fails with a typed error or parses to a finite structure") {
    for (const auto& s : samples()) {
        CAPTURE(s.name);
        for (std::size_t n = 0; n < s.text.size(); ++n) read_outcome(s.text.substr(0, n), s.format);
    }
}

TEST_CASE("NaN, infinities and huge numbers in any numeric field are ParseErrors naming the line") {
    const std::vector<std::string> bad = {"nan", "NaN", "-nan", "inf", "-Infinity", "1e400", "-1e400", "1e308",
                                          "-1e308", "1e200", "1e30", "99999999999999999999", "0x1p1000"};
    for (const auto& s : samples()) {
        CAPTURE(s.name);
        const auto tokens = number_tokens(s.text);
        REQUIRE(tokens.size() > 5);
        for (const auto& [at, len] : tokens) {
            for (const auto& b : bad) {
                std::string t = s.text;
                t.replace(at, len, b);
                CAPTURE(t);
                const auto line = static_cast<std::size_t>(std::count(t.begin(), t.begin() + static_cast<long>(at), '\n')) + 1;
                std::string msg;
                const auto out = read_outcome(t, s.format, &msg);
                // Huge but finite values in a place where they are harmless (a count the reader
                // bounds, an info value, an angle) may parse or fail otherwise; NaN and inf never parse.
                const bool non_finite = !text::parse_double(b).has_value();
                // Free metadata on the extxyz comment line (energy=..., miller=...) is not geometry.
                const bool metadata = s.format == "extxyz" && line == 2 && at > s.text.find("Properties=");
                if (non_finite && !metadata) {
                    CHECK(out != Outcome::Parsed);
                }
                if (out == Outcome::ParseErr && non_finite && s.format != "cif") {
                    CHECK(msg.find(fmt::format("case.{}:{}:", s.format, line)) != std::string::npos);
                }
            }
        }
    }
}

TEST_CASE("huge cells and coordinates are rejected, not wrapped into nonsense") {
    std::string msg;
    // A lattice of 1e200 Å (finite, volume overflows) and coordinates of 1e30 in Direct mode.
    std::string p = kPoscar;
    p.replace(p.find("5.7080000000000002"), 18, "1e200");
    CHECK(read_outcome(p, "poscar", &msg) == Outcome::ParseErr);
    CHECK(msg.find("case.poscar:3:") != std::string::npos);
    p = kPoscar;
    p.replace(p.find("0.2500000000000000"), 18, "1e30");
    CHECK(read_outcome(p, "poscar", &msg) == Outcome::ParseErr);
    CHECK(msg.find("case.poscar:12:") != std::string::npos);
    // A scale factor that overflows the cell.
    p = kPoscar;
    p.replace(p.find("   1.0\n"), 6, "1e305");
    CHECK(read_outcome(p, "poscar", &msg) == Outcome::ParseErr);
    // CIF cell lengths and coordinates.
    std::string c = kCif;
    c.replace(c.find("5.129(2)"), 8, "1e250");
    CHECK(read_outcome(c, "cif", &msg) == Outcome::ParseErr);
    CHECK(msg.find("case.cif:2:") != std::string::npos);
    c = kCif;
    c.replace(c.find("0.5 0.5 0.5"), 3, "3e9");
    CHECK(read_outcome(c, "cif", &msg) == Outcome::ParseErr);
    CHECK(msg.find("case.cif:26:") != std::string::npos);
    // Extended XYZ lattice and positions.
    std::string x = kExtxyz;
    x.replace(x.find("6.0 0.0"), 3, "1e300");
    CHECK(read_outcome(x, "extxyz", &msg) == Outcome::ParseErr);
    CHECK(msg.find("case.extxyz:2:") != std::string::npos);
    x = kExtxyz;
    x.replace(x.find("2.5 3.0"), 3, "-4e12");
    CHECK(read_outcome(x, "extxyz", &msg) == Outcome::ParseErr);
    CHECK(msg.find("case.extxyz:4:") != std::string::npos);
}

TEST_CASE("negative and out-of-range occupancies are ParseErrors naming the line") {
    for (const std::string occ : {"-0.2", "-1e-9", "-1", "1.5", "-0.5(3)", "nan", "1e400"}) {
        CAPTURE(occ);
        std::string c = kCif;
        c.replace(c.find("1.0\nCl1"), 3, occ);
        std::string msg;
        CHECK(read_outcome(c, "cif", &msg) == Outcome::ParseErr);
        CHECK(msg.find("case.cif:25:") != std::string::npos);
        CHECK(msg.find("occupancy") != std::string::npos);
    }
}

TEST_CASE("mangled lines (deleted, duplicated, swapped, doubled tokens) never crash a reader") {
    unsigned seed = 7;
    auto next = [&] {
        seed = seed * 1103515245u + 12345u;
        return seed >> 8;
    };
    for (const auto& s : samples()) {
        CAPTURE(s.name);
        const auto lines = lines_of(s.text);
        for (int k = 0; k < 400; ++k) {
            auto l = lines;
            const std::size_t i = next() % l.size(), j = next() % l.size();
            switch (next() % 5) {
                case 0: l.erase(l.begin() + static_cast<long>(i)); break;
                case 1: l.insert(l.begin() + static_cast<long>(i), l[j]); break;
                case 2: std::swap(l[i], l[j]); break;
                case 3: l[i] += " " + l[i]; break;
                default: l[i] = l[i].substr(0, l[i].size() / 2) + std::string(1, static_cast<char>(next() % 256)); break;
            }
            read_outcome(join_lines(l, l.size()), s.format);
        }
    }
}

TEST_CASE("pathological inputs: binary junk, NUL bytes, a megabyte line, absurd counts") {
    const std::string nul("Li\0\0 0 0 0\n", 11);
    for (const auto& format : {"poscar", "cif", "extxyz"}) {
        CAPTURE(format);
        CHECK(read_outcome(std::string(1 << 20, 'x'), format) != Outcome::Parsed);
        CHECK(read_outcome(std::string(1 << 16, '\n'), format) != Outcome::Parsed);
        CHECK(read_outcome(nul, format) != Outcome::Parsed);
        std::string junk;
        for (int i = 0; i < 4096; ++i) junk += static_cast<char>((i * 7919) % 256);
        CHECK(read_outcome(junk, format) != Outcome::Parsed);
    }
    std::string msg;
    CHECK(read_outcome("t\n1\n3 0 0\n0 3 0\n0 0 3\nLi\n9223372036854775807\nDirect\n0 0 0\n", "poscar", &msg) == Outcome::ParseErr);
    CHECK(msg.find("case.poscar:7:") != std::string::npos);
    CHECK(read_outcome("t\n1\n3 0 0\n0 3 0\n0 0 3\nLi S\n5000000 5000001\nDirect\n0 0 0\n", "poscar", &msg) == Outcome::ParseErr);
    CHECK(read_outcome("99999999999\nLattice=\"3 0 0 0 3 0 0 0 3\"\nLi 0 0 0\n", "extxyz", &msg) == Outcome::ParseErr);
    CHECK(msg.find("case.extxyz:1:") != std::string::npos);
    CHECK(read_outcome("2\nProperties=species:S:1:pos:R:3:x:R:99999999\nLi 0 0 0\n", "extxyz") == Outcome::ParseErr);
}

TEST_CASE("invalid UTF-8 in titles, labels and metadata is replaced, so JSON and writers never choke") {
    // Found by fuzz_extxyz: a comment-line value with bytes 0x7F 0x7F 0x00 0x00 0xFF read fine
    // but could not be written (nlohmann::json refuses invalid UTF-8). Old files also carry
    // Latin-1 titles ("\xC5" for Å).
    const std::string xyz = std::string("2\nLattice=\"3.5 0 0 0 3.5 0 0 0 3.5\" Properties=species:S:1:pos:R:3 note=ab\xff\xfe"
                                        "cd pbc=\"T T T\"\n") +
                            "Li 0 0 0\nLi 1.75 1.75 1.75\n";
    const auto s = read_structure_string(xyz, "extxyz", "utf8.xyz");
    CHECK(s.info["note"] == "ab\xEF\xBF\xBD\xEF\xBF\xBD" "cd");
    CHECK_NOTHROW(to_json(s).dump());
    CHECK(read_outcome(write_structure_string(s, "extxyz"), "extxyz") == Outcome::Parsed);
    const auto p = read_structure_string("Li2S a=5.7\xC5\n1\n3 0 0\n0 3 0\n0 0 3\nLi\n1\nDirect\n0 0 0\n", "poscar", "latin1");
    CHECK(p.title == "Li2S a=5.7\xEF\xBF\xBD");
    CHECK_NOTHROW(to_json(p).dump());
    // Valid multi-byte text is kept as it is.
    const auto q = read_structure_string("Li2S a=5.7 \xC3\x85 \xE2\x80\x94 ok\n1\n3 0 0\n0 3 0\n0 0 3\nLi\n1\nDirect\n0 0 0\n",
                                         "poscar", "utf8");
    CHECK(q.title == "Li2S a=5.7 \xC3\x85 \xE2\x80\x94 ok");
}
