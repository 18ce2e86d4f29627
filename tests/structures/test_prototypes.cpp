// Every shipped phase, the argyrodite family and bad prototype data: spglib finds the space
// group of each ordered phase (and, for a disordered phase, the parent group of its data file
// in the disordered cell while the ordered model keeps a subgroup of it); the conventional
// cells count the atoms a crystallographer expects (Li6PS5Cl: Li24 P4 S20 Cl4; the Cl-rich
// x = 1.5 member: Li22 P4 S18 Cl6); bond lengths follow from the published coordinates; and
// malformed occupancies, NaN and huge numbers fail with InputError naming the field.
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <string>

#include "common/errors.hpp"
#include "structures/elements.hpp"
#include "structures/ordering.hpp"
#include "structures/prototypes.hpp"
#include "structures/symmetry.hpp"

using namespace interphase;
using namespace interphase::structures;

namespace {

// The disordered cell of a prototype (orbits with occupancies), as build_bulk sees it.
DisorderedStructure disordered_cell(const Prototype& p) {
    DisorderedStructure d;
    d.lattice = lattice_from_parameters(p.a, p.b, p.c, p.alpha, p.beta, p.gamma);
    for (const auto& site : p.sites)
        for (const auto& [r, t] : space_group_operations(p.hall_number)) {
            Eigen::Vector3d x = r.cast<double>() * site.position + t;
            for (int k = 0; k < 3; ++k) x[k] -= std::floor(x[k]);
            auto it = std::find_if(d.sites.begin(), d.sites.end(), [&](const DisorderedSite& s) {
                return ((s.frac - x).array() - (s.frac - x).array().round()).abs().maxCoeff() < 1e-4;
            });
            if (it == d.sites.end()) {
                d.sites.push_back({x, {}, site.wyckoff});
                it = d.sites.end() - 1;
            }
            if (std::none_of(it->occupants.begin(), it->occupants.end(),
                             [&](const Occupant& o) { return o.species == site.species; }))
                it->occupants.push_back({site.species, site.occupancy});
        }
    return d;
}

std::string error_of(const std::string& yaml, std::string* field = nullptr) {
    try {
        parse_prototype(yaml, "bad.yaml");
    } catch (const InputError& e) {
        if (field) *field = e.field();
        return e.what();
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
    const auto at = s.find(from);
    REQUIRE(at != std::string::npos);
    return s.replace(at, from.size(), to);
}

const std::string kArgyrodite = R"(name: Test
formula: Li6PS5Cl
space_group: 216
lattice: {a: 9.859, b: 9.859, c: 9.859, alpha: 90, beta: 90, gamma: 90}
sites:
  - {species: P, wyckoff: 4b, position: [1/2, 1/2, 1/2]}
  - {species: S, wyckoff: 16e, position: [0.38053, 0.38053, 0.38053]}
  - {species: S, wyckoff: 4d, position: [3/4, 3/4, 3/4]}
  - {species: Cl, wyckoff: 4a, position: [0, 0, 0]}
  - {species: Li, wyckoff: 48h, position: [0.3148, 0.3148, 0.982], occupancy: 0.5}
citation: "test"
)";

}  // namespace

TEST_CASE("every shipped phase: spglib space group of the built cell, parent group of disordered phases") {
    for (const auto& name : prototype_names()) {
        CAPTURE(name);
        const Prototype& p = prototype(name);
        const Structure s = build_bulk(name);
        const SymmetryDataset ordered = analyze_symmetry(s);
        const SymmetryDataset parent = analyze_disordered_symmetry(disordered_cell(p));
        // The disordered cell as published has the group of the data file...
        CHECK(parent.number == p.space_group);
        const bool disordered =
            std::any_of(p.sites.begin(), p.sites.end(), [](const WyckoffSite& w) { return w.occupancy < 1; });
        if (!disordered) {
            CHECK(ordered.number == p.space_group);
            CHECK_FALSE(s.info.contains("ordering"));
        } else {
            // ...the ordered model one of its subgroups: each of its operations is one of the
            // parent's (same cell), so it has fewer and they divide the parent's order.
            CHECK(s.info.at("ordering").at("parent_space_group") == p.space_group);
            CHECK(ordered.rotations.size() < parent.rotations.size());
            CHECK(parent.rotations.size() % ordered.rotations.size() == 0);
            for (std::size_t o = 0; o < ordered.rotations.size(); ++o) {
                bool found = false;
                for (std::size_t q = 0; q < parent.rotations.size() && !found; ++q) {
                    Eigen::Vector3d dt = ordered.translations[o] - parent.translations[q];
                    dt -= dt.array().round().matrix();
                    found = ordered.rotations[o] == parent.rotations[q] && dt.norm() < 1e-3;
                }
                CHECK(found);
            }
        }
    }
}

TEST_CASE("Li6PS5Cl: 52-atom conventional cell Li24 P4 S20 Cl4 with PS4 tetrahedra and half-filled Li cages") {
    const Structure s = build_bulk("Li6PS5Cl");
    CHECK(s.size() == 52);
    CHECK(s.formula() == "Cl4Li24P4S20");
    const auto c = s.composition();
    CHECK(c.at("Li") == 24);
    CHECK(c.at("P") == 4);
    CHECK(c.at("S") == 20);
    CHECK(c.at("Cl") == 4);
    CHECK(s.volume() == doctest::Approx(std::pow(9.859, 3)).epsilon(1e-9));
    // P–S bond of the PS4 tetrahedron: √3 (1/2 − x) a with x = 0.38053 (≈ 2.04 Å).
    const double ps = std::sqrt(3.0) * (0.5 - 0.38053) * 9.859;
    CHECK(ps == doctest::Approx(2.04).epsilon(0.01));
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i].species != "P") continue;
        int bonded = 0;
        for (std::size_t j = 0; j < s.size(); ++j)
            if (s[j].species == "S" && std::abs(s.distance(i, j) - ps) < 1e-6) ++bonded;
        CHECK(bonded == 4);
    }
    // Each Li keeps its Wyckoff label, and the ordering never fills both sites of a 48h
    // doublet (two Li 48h sites closer than 2.0 Å): like charges apart.
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i].species != "Li") continue;
        CHECK(s[i].label == "48h");
        for (std::size_t j = i + 1; j < s.size(); ++j)
            if (s[j].species == "Li") CHECK(s.distance(i, j) > 2.0);
    }
    // Density from the formula and the cell: 4 Li6PS5Cl in a³.
    double m = 0;
    for (const auto& [el, n] : std::map<std::string, int>{{"Li", 6}, {"P", 1}, {"S", 5}, {"Cl", 1}}) m += n * element(el).mass;
    CHECK(s.density() == doctest::Approx(4 * m / 6.02214076e23 / (std::pow(9.859, 3) * 1e-24)).epsilon(1e-9));
    const auto& rec = s.info.at("ordering");
    CHECK(rec.at("site_groups").size() == 1);
    CHECK(rec.at("site_groups")[0].at("counts").at("Li") == 24);
    CHECK(rec.at("candidates").get<std::size_t>() >= 1);
    CHECK(rec.at("log10_arrangements").get<double>() == doctest::Approx(std::log10(32247603683100.0)).epsilon(1e-9));
}

TEST_CASE("argyrodite family Li(7-x)PS(6-x)Cl(x): names, site occupancies, cell contents") {
    CHECK(argyrodite_x("Li5.4PS4.4Cl1.6") == doctest::Approx(1.6));
    CHECK(argyrodite_x("Li6PS5Cl") == doctest::Approx(1.0));
    CHECK(argyrodite_x("Li7PS6") == doctest::Approx(0.0));
    CHECK_FALSE(argyrodite_x("Li5PS4.4Cl1.6").has_value());  // counts that disagree
    CHECK_FALSE(argyrodite_x("Li2S").has_value());

    const Prototype p = argyrodite_prototype(1.5);
    CHECK(p.name == "Li5.5PS4.5Cl1.5");
    CHECK(prototype("Li5.5PS4.5Cl1.5").name == "Li5.5PS4.5Cl1.5");
    CHECK(argyrodite_prototype(1.0).sites.size() == prototype("Li6PS5Cl").sites.size());
    // x = 1.5: 4a all Cl, 4d half S half Cl, Li 5.5/12 on 48h.
    std::map<std::string, double> occ;
    for (const auto& w : p.sites) occ[w.species + " " + w.wyckoff] = w.occupancy;
    CHECK(occ.at("Cl 4a") == 1.0);
    CHECK(occ.at("S 4d") == doctest::Approx(0.5));
    CHECK(occ.at("Cl 4d") == doctest::Approx(0.5));
    CHECK(occ.at("Li 48h") == doctest::Approx(5.5 / 12));

    // One conventional cell of Li5.5PS4.5Cl1.5: 4 formula units = Li22 P4 S18 Cl6 (50 atoms).
    const Structure s = build_bulk("Li5.5PS4.5Cl1.5");
    CHECK(s.size() == 50);
    CHECK(s.composition().at("Li") == 22);
    CHECK(s.composition().at("P") == 4);
    CHECK(s.composition().at("S") == 18);
    CHECK(s.composition().at("Cl") == 6);
    CHECK(s.info.at("phase") == "Li5.5PS4.5Cl1.5");
    // The ordered model of a cell with S/Cl on 4d: two groups ordered together.
    CHECK(s.info.at("ordering").at("site_groups").size() == 2);

    // The same through build_bulk(name, {x}).
    BulkOptions o;
    o.x = 1.5;
    CHECK(build_bulk("Li6PS5Cl", o).formula() == s.formula());
    // x = 0 is Li7PS6: S on 4a, no Cl.
    const Prototype li7 = argyrodite_prototype(0);
    CHECK(li7.name == "Li7PS6");
    CHECK(std::none_of(li7.sites.begin(), li7.sites.end(), [](const WyckoffSite& w) { return w.species == "Cl"; }));

    for (double bad : {-0.1, 2.5, std::nan("")}) {
        CAPTURE(bad);
        try {
            argyrodite_prototype(bad);
            FAIL("expected InputError");
        } catch (const InputError& e) {
            CHECK(e.field() == "x");
        }
    }
    BulkOptions wrong;
    wrong.x = 1.5;
    try {
        build_bulk("Li2S", wrong);
        FAIL("expected InputError");
    } catch (const InputError& e) {
        CHECK(e.field() == "x");
    }
}

TEST_CASE("bad prototype data: occupancies, NaN and huge numbers are InputErrors naming the field") {
    REQUIRE(parse_prototype(kArgyrodite, "good.yaml").sites.size() == 5);
    struct Case {
        const char* from;
        const char* to;
        const char* field;
        const char* says;
    };
    const Case cases[] = {
        {"occupancy: 0.5}", "occupancy: -0.5}", "sites[5].occupancy", "(0, 1]"},
        {"occupancy: 0.5}", "occupancy: 0}", "sites[5].occupancy", "(0, 1]"},
        {"occupancy: 0.5}", "occupancy: 1.5}", "sites[5].occupancy", "(0, 1]"},
        {"occupancy: 0.5}", "occupancy: nan}", "sites[5].occupancy", "must be a number"},
        {"occupancy: 0.5}", "occupancy: 1e308}", "sites[5].occupancy", "(0, 1]"},
        {"occupancy: 0.5}", "occupancy: 1e999}", "sites[5].occupancy", "must be a number"},
        {"occupancy: 0.5}", "occupancy: half}", "sites[5].occupancy", "must be a number"},
        {"a: 9.859, b: 9.859, c: 9.859", "a: 1e200, b: 1e200, c: 1e200", "lattice.a", "positive length"},
        {"a: 9.859, b: 9.859, c: 9.859", "a: nan, b: 9.859, c: 9.859", "lattice.a", "must be a number"},
        {"[0.3148, 0.3148, 0.982]", "[0.3148, nan, 0.982]", "sites[5].position", "not a number"},
        // Occupancies on one position adding up to more than 1: S and Cl both on 4a.
        {"  - {species: Cl, wyckoff: 4a, position: [0, 0, 0]}",
         "  - {species: Cl, wyckoff: 4a, position: [0, 0, 0], occupancy: 0.7}\n"
         "  - {species: S, wyckoff: 4a, position: [0, 0, 0], occupancy: 0.6}",
         "sites[4].position", "adding up to at most 1"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.to);
        std::string field;
        const std::string what = error_of(replace(kArgyrodite, c.from, c.to), &field);
        CHECK(field == c.field);
        CHECK_MESSAGE(what.find(c.says) != std::string::npos, what);
        CHECK(what.find("bad.yaml") != std::string::npos);
    }
    // A formula the occupancies contradict (Li 0.4 x 48 = 19.2, not 24).
    std::string field;
    const std::string what = error_of(replace(kArgyrodite, "occupancy: 0.5}", "occupancy: 0.4}"), &field);
    CHECK(field == "formula");
    // Occupancies that parse but give fractional atoms in the cell: build_bulk names the fix.
    const std::string frac = replace(replace(kArgyrodite, "occupancy: 0.5}", "occupancy: 0.45}"), "formula: Li6PS5Cl",
                                     "formula: Li5.4PS5Cl");
    const Prototype p = parse_prototype(frac, "frac.yaml");
    try {
        build_bulk(p);
        FAIL("expected InputError");
    } catch (const InputError& e) {
        CHECK(e.field() == "occupancies");
        CHECK(std::string(e.what()).find("supercell") != std::string::npos);
    }
}

TEST_CASE("P2S5 (P4S10) is not shipped: the error says how to supply the experimental structure") {
    for (const std::string name : {"P2S5", "p4s10"}) {
        CAPTURE(name);
        CHECK_THROWS_WITH_AS(prototype(name), doctest::Contains("must come from a CIF"), InputError);
        CHECK(not_shipped_reason(name).has_value());
    }
    CHECK_FALSE(not_shipped_reason("Li2S").has_value());
    CHECK_THROWS_WITH_AS(prototype("Li2Sx"), doctest::Contains("did you mean 'Li2S'"), InputError);
}

TEST_CASE("every shipped phase states its electronic character (k-points and spin of DFT hosts)") {
    // PBE band gaps: Li2S ~3.4 eV, LiCl ~6 eV, Li3P ~0.7 eV, Li6PS5Cl ~2 eV; Al, Li and LiAl
    // (a Zintl phase with a PBE Fermi surface) are metals.
    const std::map<std::string, std::string> expected{{"Al", "metal"},        {"Li", "metal"},        {"LiAl", "metal"},
                                                      {"Li2S", "insulator"},  {"Li3P", "insulator"},  {"LiCl", "insulator"},
                                                      {"Li6PS5Cl", "insulator"}, {"Cu", "metal"}};
    for (const auto& name : prototype_names()) {
        CAPTURE(name);
        const auto& p = prototype(name);
        CHECK((p.electronic == "metal" || p.electronic == "insulator"));
        if (auto it = expected.find(name); it != expected.end()) CHECK(p.electronic == it->second);
    }
    CHECK(prototype("Li5.5PS4.5Cl1.5").electronic == "insulator");  // the argyrodite family inherits it
    CHECK_THROWS_AS(parse_prototype(R"(name: X
formula: X
electronic: semimetal
space_group: 229
lattice: {a: 3, b: 3, c: 3, alpha: 90, beta: 90, gamma: 90}
sites:
  - {species: Li, wyckoff: 2a, position: [0, 0, 0]}
citation: "test"
)", "x.yaml"),
                    InputError);
}
