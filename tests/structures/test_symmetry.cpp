// Symmetry (spglib wrapper) and phase prototypes: every shipped phase builds into the right
// space group, atom count and density, agrees with Debian's python3-spglib, and malformed
// prototype files fail with errors that name the field.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "common/errors.hpp"
#include "structures/elements.hpp"
#include "structures/prototypes.hpp"
#include "structures/symmetry.hpp"
#include "test_paths.hpp"

using namespace interphase;
using namespace interphase::structures;

namespace {

constexpr double kAvogadro = 6.02214076e23;

// Expected density from the literature lattice constant and the formula, computed here
// rather than typed: Z formula units of mass M in a cell of volume V.
double expected_density(const std::map<std::string, int>& formula_unit, int z, double volume_A3) {
    double m = 0;
    for (const auto& [el, n] : formula_unit) m += n * element(el).mass;
    return z * m / kAvogadro / (volume_A3 * 1e-24);
}

std::string error_of(const std::string& yaml) {
    try {
        parse_prototype(yaml, "bad.yaml");
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

const std::string kGoodLi2S = R"(name: Test
formula: Li2S
description: antifluorite
space_group: 225
lattice: {a: 5.708, b: 5.708, c: 5.708, alpha: 90, beta: 90, gamma: 90}
sites:
  - {species: S, wyckoff: 4a, position: [0, 0, 0]}
  - {species: Li, wyckoff: 8c, position: [0.25, 0.25, 0.25]}
citation: "test"
)";

std::string replace(std::string s, const std::string& from, const std::string& to) {
    const auto at = s.find(from);
    REQUIRE(at != std::string::npos);
    return s.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("space-group database: default settings and operation counts") {
    CHECK(default_hall_number(225) == 523);
    CHECK(default_hall_number(227) == 525);  // origin choice 1 is spglib's default
    CHECK(default_hall_number(229) == 529);
    CHECK(default_hall_number(194) == 488);
    CHECK(default_hall_number(1) == 1);
    CHECK(space_group_operations(523).size() == 192);  // 48 point operations × 4 centrings
    CHECK(space_group_operations(529).size() == 96);
    CHECK(space_group_operations(488).size() == 24);
    CHECK(hall_setting(526).number == 227);
    CHECK(hall_setting(526).choice == "2");
    CHECK(hall_setting(526).international == "Fd-3m");
    CHECK_THROWS_AS(default_hall_number(231), InputError);
    CHECK_THROWS_AS(space_group_operations(0), InputError);
    CHECK_THROWS_AS(space_group_operations(531), InputError);
}

TEST_CASE("shipped prototypes: names, citations, lookup") {
    const auto names = prototype_names();
    for (const char* n : {"Al", "Li", "Li2S", "LiAl", "LiCl", "Li3P"})
        CHECK_MESSAGE(std::find(names.begin(), names.end(), n) != names.end(), n);
    for (const auto& n : names) {
        const auto& p = prototype(n);
        CHECK(p.name == n);
        CHECK_MESSAGE(p.citation.size() > 20, n);  // a real reference, not a placeholder
        CHECK(p.hall_number >= 1);
    }
    CHECK(prototype("li2s").name == "Li2S");
    CHECK(prototype("LIAL").name == "LiAl");
}

TEST_CASE("unknown phase name suggests the nearest one") {
    try {
        prototype("Li2Se");
        FAIL("expected InputError");
    } catch (const InputError& e) {
        const std::string what = e.what();
        CHECK(e.field() == "phase");
        CHECK(what.find("did you mean 'Li2S'") != std::string::npos);
        CHECK(what.find("LiAl") != std::string::npos);  // the known names are listed
    }
    CHECK_THROWS_AS(build_bulk("unobtainium"), InputError);
}

TEST_CASE("bulk phases: space group, conventional cell, composition, labels") {
    struct Case {
        const char* name;
        int number;
        const char* symbol;
        std::size_t atoms;
        const char* formula;
    };
    const Case cases[] = {
        {"Al", 225, "Fm-3m", 4, "Al4"},     {"Li", 229, "Im-3m", 2, "Li2"},
        {"Li2S", 225, "Fm-3m", 12, "Li8S4"}, {"LiAl", 227, "Fd-3m", 16, "Al8Li8"},
        {"LiCl", 225, "Fm-3m", 8, "Cl4Li4"}, {"Li3P", 194, "P6_3/mmc", 8, "Li6P2"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        const Structure s = build_bulk(c.name);
        CHECK(s.size() == c.atoms);
        CHECK(s.formula() == c.formula);
        CHECK(s.title == c.name);
        CHECK(s.info.at("phase") == c.name);
        CHECK(s.info.at("space_group") == c.number);
        CHECK(s.info.at("citation").get<std::string>() == prototype(c.name).citation);
        for (const auto& a : s.atoms()) {
            CHECK(a.frac.minCoeff() >= 0.0);
            CHECK(a.frac.maxCoeff() < 1.0);
            CHECK_FALSE(a.label.empty());
        }
        const auto d = analyze_symmetry(s);
        CHECK(d.number == c.number);
        CHECK(d.international == c.symbol);
        CHECK(d.wyckoffs.size() == s.size());
        CHECK(d.equivalent_atoms.size() == s.size());
        CHECK(d.rotations.size() == d.translations.size());
        // Each Wyckoff site of the file is one spglib orbit. (Letters themselves can differ
        // by an origin shift: S of Li2S on 4a or 4b, Li of LiAl on 8a or 8b.)
        for (std::size_t i = 0; i < s.size(); ++i)
            for (std::size_t j = 0; j < s.size(); ++j) {
                const bool same_site = s[i].label == s[j].label && s[i].species == s[j].species;
                CHECK(same_site == (d.equivalent_atoms[i] == d.equivalent_atoms[j]));
            }
    }
    const auto liAl = build_bulk("LiAl").composition();
    CHECK(liAl.at("Li") == 8);
    CHECK(liAl.at("Al") == 8);
    const auto li2s = build_bulk("Li2S");
    CHECK(li2s.composition().at("Li") == 8);
    CHECK(li2s.composition().at("S") == 4);
    CHECK(li2s[0].label == "4a");
    CHECK(li2s[4].label == "8c");
    const auto d = analyze_symmetry(li2s);
    CHECK(d.pointgroup == "m-3m");
    CHECK(d.hall == "-F 4 2 3");
    CHECK(d.wyckoffs[4] == "c");  // Li of antifluorite is 8c whatever the origin
    CHECK(analyze_symmetry(build_bulk("Al")).wyckoffs[0] == "a");
    // Li–S bond of antifluorite: √3/4 a.
    CHECK(li2s.min_interatomic_distance() == doctest::Approx(std::sqrt(3.0) / 4 * 5.708).epsilon(1e-9));
}

TEST_CASE("densities follow from the literature lattice constants and match handbook values") {
    struct Case {
        const char* name;
        std::map<std::string, int> formula_unit;
        int z;
        double handbook;  // g/cm^3, CRC Handbook of Chemistry and Physics
    };
    const Case cases[] = {
        {"Al", {{"Al", 1}}, 4, 2.70},
        {"Li", {{"Li", 1}}, 2, 0.534},
        {"Li2S", {{"Li", 2}, {"S", 1}}, 4, 1.66},
        {"LiCl", {{"Li", 1}, {"Cl", 1}}, 4, 2.07},
        {"Li3P", {{"Li", 3}, {"P", 1}}, 2, 1.43},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        const auto& p = prototype(c.name);
        const Structure s = build_bulk(p);
        // Cell volume from the parameters by the textbook formula, independent of the lattice code.
        const double ca = std::cos(p.alpha * M_PI / 180), cb = std::cos(p.beta * M_PI / 180),
                     cg = std::cos(p.gamma * M_PI / 180);
        const double volume = p.a * p.b * p.c * std::sqrt(1 - ca * ca - cb * cb - cg * cg + 2 * ca * cb * cg);
        CHECK(s.volume() == doctest::Approx(volume).epsilon(1e-9));
        const double expected = expected_density(c.formula_unit, c.z, volume);
        CHECK(s.density() == doctest::Approx(expected).epsilon(1e-9));
        CHECK(s.density() == doctest::Approx(c.handbook).epsilon(0.03));
    }
    // beta-LiAl: 8 LiAl units in a = 6.37 Å gives ~1.74 g/cm^3.
    const Structure liAl = build_bulk("LiAl");
    CHECK(liAl.density() == doctest::Approx(expected_density({{"Li", 1}, {"Al", 1}}, 8, std::pow(6.37, 3))).epsilon(1e-9));
}

TEST_CASE("primitive and conventional cells") {
    CHECK(primitive_cell(build_bulk("Al")).size() == 1);
    CHECK(primitive_cell(build_bulk("Li")).size() == 1);
    CHECK(primitive_cell(build_bulk("Li2S")).size() == 3);
    CHECK(primitive_cell(build_bulk("LiAl")).size() == 4);
    CHECK(primitive_cell(build_bulk("LiCl")).size() == 2);
    CHECK(primitive_cell(build_bulk("Li3P")).size() == 8);

    const Structure al = build_bulk("Al");
    const Structure prim = primitive_cell(al);
    CHECK(prim.volume() == doctest::Approx(al.volume() / 4).epsilon(1e-9));
    CHECK(prim.info.at("cell") == "primitive");
    CHECK(prim.info.at("phase") == "Al");
    CHECK(prim[0].species == "Al");
    // Back to the conventional cell from the primitive one.
    const Structure conv = conventional_cell(prim);
    CHECK(conv.size() == 4);
    CHECK(conv.volume() == doctest::Approx(al.volume()).epsilon(1e-9));
    CHECK(conv.info.at("cell") == "conventional");

    const Structure li2s_prim = primitive_cell(build_bulk("Li2S"));
    const auto comp = li2s_prim.composition();
    CHECK(comp.at("Li") == 2);
    CHECK(comp.at("S") == 1);
    CHECK(conventional_cell(li2s_prim).size() == 12);
    CHECK(analyze_symmetry(li2s_prim).number == 225);

    // Tags are dropped by standardization (atoms are re-created by spglib).
    Structure tagged = build_bulk("Li");
    tagged[0].fixed = true;
    const Structure untagged = conventional_cell(tagged);
    for (const auto& a : untagged.atoms()) {
        CHECK_FALSE(a.fixed);
        CHECK(a.label.empty());
    }
}

TEST_CASE("symmetry analysis survives a shifted, perturbed cell and a supercell") {
    Structure s = build_bulk("Li2S");
    for (auto& a : s.atoms()) a.frac += Eigen::Vector3d(0.1234, 0.0571, 0.3);  // arbitrary origin
    s[3].frac[0] += 2e-4;                                                      // 1e-3 Å noise
    s.wrap();
    CHECK(analyze_symmetry(s, 1e-2).number == 225);
    CHECK(analyze_symmetry(s, 1e-5).number < 225);  // tight tolerance sees the noise

    // A 2×1×1 supercell: still Fm-3m, but its operations are those that map the (tetragonal)
    // supercell lattice onto itself: 16 rotations, each with 4 centring × 2 supercell
    // translations.
    const Structure al = build_bulk("Al");
    Eigen::Matrix3d L2 = al.lattice();
    L2.row(0) *= 2;
    Structure super(L2);
    for (const auto& a : al.atoms())
        for (int i = 0; i < 2; ++i) super.add_atom("Al", Eigen::Vector3d((a.frac[0] + i) / 2, a.frac[1], a.frac[2]));
    const auto d = analyze_symmetry(super);
    CHECK(d.number == 225);
    CHECK(d.rotations.size() == 16 * 8);
    CHECK(primitive_cell(super).size() == 1);
}

TEST_CASE("symmetry errors are StructureError") {
    CHECK_THROWS_AS(analyze_symmetry(Structure(Eigen::Matrix3d::Identity() * 4)), StructureError);  // no atoms
    Structure bad(Eigen::Matrix3d::Identity() * 4);
    bad.add_atom("Xx", Eigen::Vector3d(0, 0, 0));
    CHECK_THROWS_AS(analyze_symmetry(bad), StructureError);  // unknown element
    Structure flat(Eigen::Matrix3d::Zero());
    flat.add_atom("Li", Eigen::Vector3d(0, 0, 0));
    CHECK_THROWS_AS(standardize(flat, true), StructureError);  // singular lattice
    CHECK_THROWS_AS(analyze_symmetry(build_bulk("Al"), 0.0), StructureError);
}

TEST_CASE("agrees with Debian's python3-spglib on every shipped phase") {
    namespace fs = std::filesystem;
    const fs::path dir = interphase::testing::scratch("spglib-compare");
    // The cells go to Python as plain numbers; Python answers one line per phase.
    std::ostringstream py;
    py << "import sys\ntry:\n    import spglib\nexcept Exception:\n    print('NOSPGLIB'); sys.exit(0)\ncells = {\n";
    py.precision(17);
    std::map<std::string, std::pair<int, std::size_t>> ours;
    for (const auto& name : prototype_names()) {
        const Structure s = build_bulk(name);
        ours[name] = {analyze_symmetry(s).number, primitive_cell(s).size()};
        py << "  '" << name << "': ([";
        for (int r = 0; r < 3; ++r)
            py << "[" << s.lattice()(r, 0) << "," << s.lattice()(r, 1) << "," << s.lattice()(r, 2) << "],";
        py << "], [";
        for (const auto& a : s.atoms()) py << "[" << a.frac[0] << "," << a.frac[1] << "," << a.frac[2] << "],";
        py << "], [";
        for (const auto& a : s.atoms()) py << element(a.species).number << ",";
        py << "]),\n";
    }
    py << "}\nfor name, cell in cells.items():\n"
          "    ds = spglib.get_symmetry_dataset(cell, symprec=1e-3)\n"
          "    prim = spglib.standardize_cell(cell, to_primitive=True, no_idealize=False, symprec=1e-3)\n"
          "    print(name, ds['number'], len(prim[2]))\n";
    const fs::path script = dir / "compare.py";
    std::ofstream(script) << py.str();

    const std::string cmd = "/usr/bin/python3 '" + script.string() + "' 2>&1";
    FILE* pipe = ::popen(cmd.c_str(), "r");
    REQUIRE(pipe != nullptr);
    std::string out;
    char buf[512];
    while (std::fgets(buf, sizeof buf, pipe)) out += buf;
    const int rc = ::pclose(pipe);
    if (rc != 0 || out.find("NOSPGLIB") != std::string::npos) {
        MESSAGE("python3-spglib not available, comparison skipped: " << out);
        return;
    }
    std::istringstream lines(out);
    std::string name;
    int number = 0;
    std::size_t nprim = 0;
    std::size_t compared = 0;
    while (lines >> name >> number >> nprim) {
        CAPTURE(name);
        REQUIRE(ours.count(name));
        CHECK(ours[name].first == number);
        CHECK(ours[name].second == nprim);
        ++compared;
    }
    CHECK_MESSAGE(compared == ours.size(), out);
    fs::remove_all(dir);
}

TEST_CASE("prototype files: a valid one parses, malformed ones name the field") {
    const Prototype p = parse_prototype(kGoodLi2S, "good.yaml");
    CHECK(p.space_group == 225);
    CHECK(p.hall_number == 523);  // default setting filled in
    CHECK(p.sites.size() == 2);
    CHECK(build_bulk(p).size() == 12);

    struct Bad {
        const char* what;
        std::string yaml;
        const char* expect;
    };
    const Bad bad[] = {
        {"space group 999", replace(kGoodLi2S, "space_group: 225", "space_group: 999"),
         "field 'space_group': must be between 1 and 230, got 999"},
        {"negative length", replace(kGoodLi2S, "b: 5.708", "b: -5.708"), "field 'lattice.b': must be a positive length"},
        {"wrong multiplicity", replace(kGoodLi2S, "wyckoff: 8c", "wyckoff: 4c"),
         "field 'sites[2].wyckoff': Li at (0.25, 0.25, 0.25) in Fm-3m expands to 8 atoms per cell, not the 4"},
        {"general position typo", replace(kGoodLi2S, "[0.25, 0.25, 0.25]", "[0.25, 0.25, 0.26]"),
         "field 'sites[2].wyckoff'"},
        {"angle", replace(kGoodLi2S, "gamma: 90", "gamma: 190"), "field 'lattice.gamma': must be an angle"},
        {"lattice not cubic", replace(kGoodLi2S, "c: 5.708", "c: 6.1"), "field 'lattice': "},
        {"Hall number of another group", replace(kGoodLi2S, "space_group: 225", "space_group: 225\nhall_number: 526"),
         "field 'hall_number': Hall number 526 is a setting of Fd-3m (227)"},
        {"occupancy", replace(kGoodLi2S, "position: [0, 0, 0]}", "position: [0, 0, 0], occupancy: 1.5}"),
         "field 'sites[1].occupancy': must be in (0, 1]"},
        {"species", replace(kGoodLi2S, "species: S,", "species: Sx,"), "field 'sites[1].species'"},
        {"wyckoff label", replace(kGoodLi2S, "wyckoff: 4a", "wyckoff: a4"), "field 'sites[1].wyckoff'"},
        {"overlapping sites", replace(kGoodLi2S, "[0.25, 0.25, 0.25]", "[0.5, 0.5, 0.5]}\n  - {species: Li, wyckoff: 4b, position: [0.5, 0.5, 0.5]"),
         "field 'sites[2].wyckoff'"},  // 8c at 1/2 expands to only 4: caught as multiplicity first
        {"formula", replace(kGoodLi2S, "formula: Li2S", "formula: LiS"), "field 'formula': 'LiS' does not match"},
        {"missing citation", replace(kGoodLi2S, "citation: \"test\"", ""), "field 'citation': is required"},
        {"typo in a key", replace(kGoodLi2S, "space_group: 225", "space_group: 225\nspacegroup: 225"),
         "did you mean 'space_group'"},
        {"not a number", replace(kGoodLi2S, "a: 5.708", "a: five"), "field 'lattice.a': must be a number, got 'five'"},
        {"missing position", replace(kGoodLi2S, ", position: [0, 0, 0]", ""), "field 'sites[1].position': is required"},
    };
    for (const auto& b : bad) {
        CAPTURE(b.what);
        const std::string e = error_of(b.yaml);
        CHECK_MESSAGE(e.find(b.expect) != std::string::npos, e);
        CHECK_MESSAGE(e.find("bad.yaml") != std::string::npos, e);
    }
    CHECK_THROWS_AS(parse_prototype(replace(kGoodLi2S, "space_group: 225", "space_group: 999"), "bad.yaml"), InputError);
    // Broken YAML syntax is a ParseError with the line.
    try {
        parse_prototype("name: [unclosed\nformula: Li\n", "syntax.yaml");
        FAIL("expected ParseError");
    } catch (const ParseError& e) {
        CHECK(e.file() == "syntax.yaml");
        CHECK(e.line() > 0);
    }
}

TEST_CASE("overlapping fully occupied sites are rejected; mixed occupancy parses but does not build") {
    const std::string overlap = replace(kGoodLi2S, "  - {species: Li, wyckoff: 8c, position: [0.25, 0.25, 0.25]}",
                                        "  - {species: Li, wyckoff: 8c, position: [0.25, 0.25, 0.25]}\n"
                                        "  - {species: Na, wyckoff: 4a, position: [0, 0, 0]}");
    CHECK(error_of(overlap).find("lands on the same positions") != std::string::npos);

    // S/Cl sharing 4a half and half (as on the argyrodite 4a/4d sites): a valid file...
    std::string mixed = replace(kGoodLi2S, "  - {species: S, wyckoff: 4a, position: [0, 0, 0]}",
                                "  - {species: S, wyckoff: 4a, position: [0, 0, 0], occupancy: 0.5}\n"
                                "  - {species: Cl, wyckoff: 4a, position: [0, 0, 0], occupancy: 0.5}");
    mixed = replace(mixed, "formula: Li2S", "formula: Li4SCl");
    const Prototype p = parse_prototype(mixed, "mixed.yaml");
    CHECK(p.sites[0].occupancy == 0.5);
    // ...that build_bulk orders deterministically (structures/ordering.hpp): 2 S + 2 Cl on the
    // four 4a sites, the composition the occupancies ask for, and the choice recorded.
    const auto ordered = build_bulk(p);
    int n_s = 0, n_cl = 0, n_li = 0;
    for (const auto& a : ordered.atoms()) {
        n_s += a.species == "S";
        n_cl += a.species == "Cl";
        n_li += a.species == "Li";
    }
    CHECK(n_s == 2);
    CHECK(n_cl == 2);
    CHECK(n_li == 8);
    CHECK(ordered.info.contains("ordering"));
}

TEST_CASE("hexagonal positions written as fractions or decimals give the same crystal") {
    const auto& li3p = prototype("Li3P");
    Prototype decimals = li3p;
    decimals.sites[0].position = Eigen::Vector3d(0.33333, 0.66667, 0.25);  // as many papers print them
    const Structure a = build_bulk(li3p), b = build_bulk(decimals);
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) CHECK((a[i].frac - b[i].frac).cwiseAbs().maxCoeff() < 1e-4);
    // Li(2) at 4f: z and its images 1/2 - z, 1/2 + z, 1 - z.
    int li4f = 0;
    for (const auto& at : a.atoms()) li4f += at.label == "4f";
    CHECK(li4f == 4);
}
