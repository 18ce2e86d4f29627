// VASP POSCAR/CONTCAR: the structure format every VASP user hand-edits, so the reader is strict
// about what VASP itself would misread (a missing "Direct" line, a short coordinate block) and
// reports it with the file and line instead of silently shifting every atom by one line.
//
// Layout (VASP 5): title / scale / 3 lattice rows / species / counts / [Selective dynamics] /
// Direct|Cartesian / one line per atom. VASP 4 files (no species line) are read when the title
// line names the species, which is what VASP 4-era tools (and ASE) wrote there.
// See docs/formats.md for the conventions shared with the other formats.

#include <cmath>
#include <fmt/format.h>
#include <istream>
#include <ostream>
#include <string>
#include <vector>

#include "common/errors.hpp"
#include "common/text.hpp"
#include "structures/elements.hpp"
#include "structures/io.hpp"

namespace interphase::structures {
namespace {

// Guards against garbage files whose "counts" line would make us allocate billions of atoms.
constexpr long long kMaxAtoms = 10'000'000;
// Cell components (Å) and fractional coordinates beyond this are typos or garbage, not crystals:
// a 1e200 Å cell overflows its volume and a coordinate of 1e30 cells wraps to noise.
constexpr double kMaxMagnitude = 1e6;

/// Hands out lines with their 1-based numbers; a missing line is a ParseError naming what was
/// expected, so a truncated file says "expected coordinates of atom 7 of 8", not "bad input".
class LineReader {
public:
    LineReader(std::istream& in, std::string source) : in_(in), source_(std::move(source)) {}

    std::string next(const std::string& expected) {
        std::string line;
        if (!std::getline(in_, line))
            throw ParseError(source_, line_no_ + 1, "unexpected end of file: expected " + expected);
        ++line_no_;
        if (!line.empty() && line.back() == '\r') line.pop_back();  // files edited on Windows
        return line;
    }
    std::size_t line_no() const noexcept { return line_no_; }
    [[noreturn]] void fail(const std::string& message) const { throw ParseError(source_, line_no_, message); }

private:
    std::istream& in_;
    std::string source_;
    std::size_t line_no_ = 0;
};

double number(const LineReader& r, const std::string& token, const std::string& what) {
    if (auto v = text::parse_double(token)) return *v;
    r.fail(fmt::format("{} '{}' is not a finite number", what, token));
}

/// Same test as Structure::validate, done here so that a singular cell is reported at its line
/// before Cartesian coordinates or a volume scale are converted with it.
void check_lattice(const LineReader& r, const Eigen::Matrix3d& L) {
    const double v = std::abs(L.determinant());
    const double scale = L.row(0).norm() * L.row(1).norm() * L.row(2).norm();
    if (!(v > 1e-6) || v < 1e-8 * scale)
        r.fail(fmt::format("singular lattice (cell volume {:.3g} Å^3): cell vectors are zero or linearly dependent", v));
}

/// "Li_sv", "Li_sv/3b2f1c..." (VASP 6 writes POTCAR names and hashes) -> "Li".
std::string species_from_token(std::string token) {
    const auto cut = token.find_first_of("_/");
    if (cut != std::string::npos) token.erase(cut);
    return token;
}

bool flag_value(const LineReader& r, const std::string& token) {
    const std::string t = text::to_lower(token);
    if (t == "t" || t == ".true." || t == "true") return true;
    if (t == "f" || t == ".false." || t == "false") return false;
    r.fail(fmt::format("selective dynamics flag '{}' must be T or F", token));
}

Structure read_poscar(std::istream& in, const std::string& source) {
    LineReader r(in, source);
    const std::string title = text::trim(r.next("the title line"));

    // Scale: one factor for the whole cell, a negative value meaning the target volume in Å^3,
    // or (VASP >= 5.4) three factors for the x, y and z Cartesian components.
    const auto scale_tokens = text::split_ws(r.next("the scale factor"));
    if (scale_tokens.empty()) r.fail("expected the scale factor (e.g. 1.0), found an empty line");
    std::vector<double> scale;
    for (const auto& t : scale_tokens) {
        if (t[0] == '!' || t[0] == '#') break;  // trailing comment
        scale.push_back(number(r, t, "scale factor"));
    }
    if (scale.size() != 1 && scale.size() != 3)
        r.fail(fmt::format("expected 1 or 3 scale factors, found {}", scale.size()));
    for (double f : scale)
        if (f == 0.0) r.fail("scale factor is zero");
    if (scale.size() == 3)
        for (double f : scale)
            if (f < 0) r.fail("with three scale factors each must be positive (a negative factor means volume only alone)");
    const std::size_t scale_line = r.line_no();

    Eigen::Matrix3d L;
    for (int row = 0; row < 3; ++row) {
        const auto t = text::split_ws(r.next(fmt::format("lattice vector {}", row + 1)));
        if (t.size() < 3) r.fail(fmt::format("lattice vector {} needs 3 numbers, found {}", row + 1, t.size()));
        for (int k = 0; k < 3; ++k) L(row, k) = number(r, t[static_cast<std::size_t>(k)], "lattice component");
        if (L.row(row).cwiseAbs().maxCoeff() > kMaxMagnitude)
            r.fail(fmt::format("lattice vector {} has a component beyond {:g} Å", row + 1, kMaxMagnitude));
    }
    check_lattice(r, L);
    // The factors multiply the x, y, z Cartesian components of the cell and, in Cartesian
    // mode, of the positions.
    Eigen::Vector3d factor = Eigen::Vector3d::Constant(scale[0]);
    if (scale.size() == 3) factor = Eigen::Vector3d(scale[0], scale[1], scale[2]);
    else if (scale[0] < 0) factor.setConstant(std::cbrt(-scale[0] / std::abs(L.determinant())));
    for (int k = 0; k < 3; ++k) L.col(k) *= factor[k];
    if (!L.allFinite() || L.cwiseAbs().maxCoeff() > kMaxMagnitude)
        throw ParseError(source, scale_line, fmt::format("the scale factor makes the cell larger than {:g} Å", kMaxMagnitude));

    // Species line (VASP 5) or directly the counts (VASP 4).
    std::vector<std::string> species;
    auto tokens = text::split_ws(r.next("the species or counts line"));
    if (tokens.empty()) r.fail("expected element symbols or atom counts, found an empty line");
    const bool vasp4 = text::parse_int(tokens[0]).has_value();
    if (!vasp4) {
        for (const auto& t : tokens) {
            if (t[0] == '!' || t[0] == '#') break;
            species.push_back(species_from_token(t));
        }
        for (const auto& sp : species)
            if (!is_element(sp)) r.fail(fmt::format("unknown element '{}' in the species line", sp));
        tokens = text::split_ws(r.next("the atom counts line"));
    }
    const std::size_t counts_line = r.line_no();
    std::vector<long long> counts;
    long long total = 0;
    for (const auto& t : tokens) {
        auto n = text::parse_int(t);
        if (!n) {
            if (!counts.empty()) break;  // trailing comment after the counts
            r.fail(fmt::format("atom count '{}' is not an integer", t));
        }
        if (*n < 0) r.fail(fmt::format("atom count {} is negative", *n));
        counts.push_back(*n);
        total += *n;
        if (total > kMaxAtoms) r.fail(fmt::format("more than {} atoms: not a POSCAR this program can use", kMaxAtoms));
    }
    if (total == 0) r.fail("the counts line gives no atoms");
    if (vasp4) {
        // VASP 4 has no species line; ASE and older tools put the symbols in the title.
        for (const auto& t : text::split_ws(title))
            if (is_element(species_from_token(t))) species.push_back(species_from_token(t));
        if (species.size() != counts.size())
            r.fail("VASP 4 POSCAR without a species line: add a line with the element symbols (e.g. 'Li S') "
                   "above the counts");
    }
    if (species.size() != counts.size())
        throw ParseError(source, counts_line,
                         fmt::format("{} species but {} atom counts", species.size(), counts.size()));

    std::string mode = text::trim(r.next("'Direct' or 'Cartesian'"));
    bool selective = false;
    if (!mode.empty() && (mode[0] == 's' || mode[0] == 'S')) {
        selective = true;
        mode = text::trim(r.next("'Direct' or 'Cartesian'"));
    }
    bool cartesian = false;
    if (!mode.empty() && (mode[0] == 'c' || mode[0] == 'C' || mode[0] == 'k' || mode[0] == 'K'))
        cartesian = true;
    else if (mode.empty() || (mode[0] != 'd' && mode[0] != 'D'))
        // VASP would take any other line for "Direct" and read the first atom from the next
        // line, shifting all atoms; a missing mode line is a common hand-editing slip.
        r.fail(fmt::format("expected 'Direct' or 'Cartesian', found '{}'", mode));

    Structure s(L);
    s.title = title;
    nlohmann::json masks = nlohmann::json::array();
    bool partial_masks = false;
    long long index = 0;
    for (std::size_t sp = 0; sp < species.size(); ++sp) {
        for (long long n = 0; n < counts[sp]; ++n) {
            ++index;
            const auto t = text::split_ws(r.next(fmt::format("coordinates of atom {} of {} (counts on line {})",
                                                             index, total, counts_line)));
            if (t.size() < 3)
                r.fail(fmt::format("atom {} needs 3 coordinates, found {}", index, t.size()));
            Eigen::Vector3d v;
            for (int k = 0; k < 3; ++k)
                v[k] = number(r, t[static_cast<std::size_t>(k)], fmt::format("coordinate of atom {}", index));
            if (cartesian) v = v.cwiseProduct(factor);
            Atom& a = cartesian ? s.add_atom_cartesian(species[sp], v) : s.add_atom(species[sp], v);
            if (!a.frac.allFinite()) r.fail(fmt::format("coordinates of atom {} are not finite", index));
            if (a.frac.cwiseAbs().maxCoeff() > kMaxMagnitude)
                r.fail(fmt::format("atom {} lies more than {:g} cells away", index, kMaxMagnitude));
            if (selective) {
                if (t.size() < 6) r.fail(fmt::format("atom {} needs 3 selective dynamics flags (T/F) after its coordinates", index));
                const std::array<bool, 3> m{flag_value(r, t[3]), flag_value(r, t[4]), flag_value(r, t[5])};
                a.fixed = !m[0] && !m[1] && !m[2];
                if (m[0] != m[1] || m[1] != m[2]) partial_masks = true;
                masks.push_back({m[0], m[1], m[2]});
            }
        }
    }
    // Per-direction constraints (e.g. "F F T": relax along z only) have no Atom field; they are
    // kept in info so that reading a CONTCAR and writing a POSCAR does not drop them.
    if (partial_masks) s.info["selective_dynamics"] = std::move(masks);
    return s;
}

/// Selective dynamics flags (true = free) of atom i: info["selective_dynamics"] when it matches
/// the atoms, otherwise from Atom::fixed; a fixed atom is always "F F F".
std::array<bool, 3> free_flags(const Structure& s, std::size_t i) {
    std::array<bool, 3> f{true, true, true};
    const auto it = s.info.find("selective_dynamics");
    if (it != s.info.end() && it->is_array() && it->size() == s.size()) {
        const auto& m = (*it)[i];
        if (m.is_array() && m.size() == 3)
            for (std::size_t k = 0; k < 3; ++k)
                if (m[k].is_boolean()) f[k] = m[k].get<bool>();
    }
    if (s[i].fixed) f = {false, false, false};
    return f;
}

void write_poscar(std::ostream& out, const Structure& s) {
    // VASP needs atoms grouped by species; groups follow the order of first appearance, so a
    // structure that is already grouped keeps its atom order exactly.
    std::vector<std::string> species;
    std::vector<std::vector<std::size_t>> groups;
    for (std::size_t i = 0; i < s.size(); ++i) {
        std::size_t g = 0;
        while (g < species.size() && species[g] != s[i].species) ++g;
        if (g == species.size()) {
            species.push_back(s[i].species);
            groups.emplace_back();
        }
        groups[g].push_back(i);
    }
    bool selective = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto f = free_flags(s, i);
        if (!f[0] || !f[1] || !f[2]) selective = true;
    }

    std::string title = s.title.empty() ? s.formula() : s.title;
    for (auto& c : title)
        if (c == '\n' || c == '\r') c = ' ';
    out << title << '\n' << "   1.0\n";
    const auto& L = s.lattice();
    // A blank before every number keeps columns apart even for absurdly large values.
    for (int r = 0; r < 3; ++r) out << fmt::format("  {:21.16f} {:21.16f} {:21.16f}\n", L(r, 0), L(r, 1), L(r, 2));
    for (const auto& sp : species) out << fmt::format("  {:>4}", sp);
    out << '\n';
    for (const auto& g : groups) out << fmt::format("  {:>4}", g.size());
    out << '\n';
    if (selective) out << "Selective dynamics\n";
    out << "Direct\n";
    for (const auto& g : groups)
        for (std::size_t i : g) {
            const auto& p = s[i].frac;
            out << fmt::format("  {:19.16f} {:19.16f} {:19.16f}", p[0], p[1], p[2]);
            if (selective) {
                const auto f = free_flags(s, i);
                out << fmt::format("   {} {} {}", f[0] ? 'T' : 'F', f[1] ? 'T' : 'F', f[2] ? 'T' : 'F');
            }
            out << '\n';
        }
}

}  // namespace

FileFormat poscar_format() {
    return {"poscar",
            "VASP 5 POSCAR/CONTCAR (VASP 4 when the title names the species); Selective dynamics <-> fixed",
            {".vasp", ".poscar"},
            {"POSCAR", "CONTCAR"},
            read_poscar,
            write_poscar};
}

}  // namespace interphase::structures
