// Slab builder and adsorption-site finder: geometry checked against crystallography (d_hkl,
// atoms per plane) and against ASE's own fcc111 builder (Debian python3-ase) where it applies.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "common/errors.hpp"
#include "structures/elements.hpp"
#include "structures/io.hpp"
#include "structures/lattice_tools.hpp"
#include "structures/prototypes.hpp"
#include "structures/sites.hpp"
#include "structures/slab.hpp"
#include "test_paths.hpp"

using namespace interphase;
using namespace interphase::structures;

namespace {
std::map<std::string, int> count_by(const Structure& s, auto key) {
    std::map<std::string, int> m;
    for (const auto& a : s.atoms()) ++m[key(a)];
    return m;
}
double a_of(const Structure& s) { return s.lattice().row(0).norm(); }
}  // namespace

TEST_CASE("primitive cells keep the Cartesian frame and have the right atom counts") {
    const auto al = build_bulk("Al");
    const auto p = primitive_of(al);
    CHECK(p.size() == 1);
    CHECK(p.volume() == doctest::Approx(al.volume() / 4).epsilon(1e-9));
    CHECK(primitive_of(build_bulk("Li2S")).size() == 3);
    CHECK(primitive_of(build_bulk("Li")).size() == 1);
    CHECK(primitive_of(build_bulk("LiAl")).size() == 4);
}

TEST_CASE("Miller indices parse in 3- and 4-index forms, with clear errors") {
    CHECK(parse_miller("1,1,1", "t") == std::array<int, 3>{1, 1, 1});
    CHECK(parse_miller("111", "t") == std::array<int, 3>{1, 1, 1});
    CHECK(parse_miller("1 0 -1 0", "t") == std::array<int, 3>{1, 0, 0});
    CHECK_THROWS_AS(parse_miller("1,0,0,1", "t"), InputError);
    CHECK_THROWS_AS(parse_miller("0,0,0", "t"), InputError);
    CHECK_THROWS_AS(parse_miller("a,b,c", "t"), InputError);
}

TEST_CASE("Al(111): one atom per plane, d = a/sqrt(3), bottom layer fixed") {
    const auto bulk = build_bulk("Al");
    const double a = a_of(bulk);
    const auto terms = terminations(bulk, {1, 1, 1});
    REQUIRE(terms.size() == 1);
    CHECK(terms[0].gap == doctest::Approx(a / std::sqrt(3.0)).epsilon(1e-9));

    SlabSpec spec;
    spec.miller = {1, 1, 1};
    spec.layers = 3;
    spec.supercell = {2, 2};
    spec.vacuum = 10;
    spec.fix_bottom_layers = 1;
    const auto slab = build_slab(bulk, spec);
    CHECK(slab.size() == 12);
    CHECK(slab.info["atomic_layers"] == 3);
    CHECK(count_by(slab, [](const Atom& x) { return std::to_string(x.layer); }) ==
          std::map<std::string, int>{{"0", 4}, {"1", 4}, {"2", 4}});
    int fixed = 0;
    for (const auto& at : slab.atoms()) fixed += at.fixed ? (at.layer == 0 ? 1 : 100) : 0;
    CHECK(fixed == 4);
    // In-plane cell: 2x the nearest-neighbour distance a/sqrt(2), 60 or 120 degrees.
    CHECK(slab.lattice().row(0).norm() == doctest::Approx(2 * a / std::sqrt(2.0)));
    CHECK(slab.lattice().row(1).norm() == doctest::Approx(2 * a / std::sqrt(2.0)));
    CHECK(slab.lattice()(2, 2) == doctest::Approx(2 * a / std::sqrt(3.0) + 10));
    CHECK(slab.min_interatomic_distance() == doctest::Approx(a / std::sqrt(2.0)));
    CHECK(slab.info["area"].get<double>() == doctest::Approx(4 * (std::sqrt(3.0) / 2) * (a * a / 2)));
}

TEST_CASE("Li2S(111): Li-S-Li trilayers, the widest gap is between two Li planes") {
    const auto bulk = build_bulk("Li2S");
    const double a = a_of(bulk);
    const auto terms = terminations(bulk, {1, 1, 1});
    REQUIRE(terms.size() == 3);
    CHECK(terms[0].top_species == "Li");
    CHECK(terms[0].bottom_species == "Li");
    CHECK(terms[0].gap == doctest::Approx(a * std::sqrt(3.0) / 6).epsilon(1e-6));  // d/2
    SlabSpec spec;
    spec.miller = {1, 1, 1};
    spec.layers = 2;
    spec.fix_bottom_layers = 3;
    const auto slab = build_slab(bulk, spec);
    CHECK(slab.formula() == "Li4S2");
    CHECK(slab.info["termination"] == "Li");
    CHECK(slab.info["atomic_layers"] == 6);
    int fixed = 0;
    for (const auto& at : slab.atoms()) fixed += at.fixed;
    CHECK(fixed == 3);
    // The S-terminated cut is available by species.
    spec.termination_species = "S";
    CHECK(build_slab(bulk, spec).info["termination"] == "S");
    spec.termination_species = "Cl";
    CHECK_THROWS_AS(build_slab(bulk, spec), InputError);
}

TEST_CASE("(100) and (110) planes of fcc Al have the textbook spacings") {
    const auto bulk = build_bulk("Al");
    const double a = a_of(bulk);
    CHECK(oriented_cell(bulk, {1, 0, 0}).d_spacing == doctest::Approx(a / 2));
    CHECK(oriented_cell(bulk, {1, 1, 0}).d_spacing == doctest::Approx(a / (2 * std::sqrt(2.0))));
    CHECK(oriented_cell(bulk, {2, 2, 2}).d_spacing == doctest::Approx(a / std::sqrt(3.0)));
}

TEST_CASE("Al(111) 2x2 adsorption sites: fcc, hcp, bridge, top with their multiplicities") {
    SlabSpec spec;
    spec.layers = 3;
    spec.supercell = {2, 2};
    const auto slab = build_slab(build_bulk("Al"), spec);
    const auto sites = find_adsorption_sites(slab);
    std::map<std::string, int> mult;
    for (const auto& s : sites) mult[s.name] = s.multiplicity;
    CHECK(mult == std::map<std::string, int>{{"fcc_hollow", 4}, {"hcp_hollow", 4}, {"bridge", 12}, {"top", 4}});
    CHECK(sites.front().name == "fcc_hollow");
    const auto with_li = add_adsorbate(slab, select_site(sites, "fcc_hollow", "test"), "Li");
    REQUIRE(with_li.size() == 13);
    CHECK(with_li[12].label == "adsorbate");
    // Li sits at the covalent bond length (1.28 + 1.21 Å) from its three Al neighbours.
    int neighbours = 0;
    for (std::size_t i = 0; i < 12; ++i)
        if (std::abs(with_li.distance(12, i) - 2.49) < 1e-6) ++neighbours;
    CHECK(neighbours == 3);
    CHECK_THROWS_AS(select_site(sites, "hollowx", "test"), InputError);
}

TEST_CASE("Al(111) matches ASE's fcc111 builder: spacing, fcc hollow position") {
    if (std::system("/usr/bin/python3 -c 'import ase' 2>/dev/null") != 0) {
        MESSAGE("python3-ase not importable: skipping the ASE comparison");
        return;
    }
    const auto dir = testing::scratch("ase-fcc111");
    const auto out = dir / "ase.json";
    const std::string script =
        "import json; from ase.build import fcc111, add_adsorbate\n"
        "s = fcc111('Al', (1, 1, 3), a=4.0495, vacuum=5)\n"
        "z = sorted(set(round(p[2], 6) for p in s.positions))\n"
        "add_adsorbate(s, 'Li', 2.0, 'fcc')\n"
        "top = s.positions[2]; li = s.positions[-1]\n"
        "json.dump({'dz': z[1]-z[0], 'cell_a': float(s.cell.lengths()[0]), 'li_top_lateral': float(((li-top)[:2]**2).sum()**0.5),"
        " 'li_second': float(((li - s.positions[1])[:2]**2).sum()**0.5)}, open('" + out.string() + "', 'w'))\n";
    std::ofstream(dir / "s.py") << script;
    REQUIRE(std::system(("/usr/bin/python3 " + (dir / "s.py").string()).c_str()) == 0);
    nlohmann::json ase;
    std::ifstream(out) >> ase;

    SlabSpec spec;
    spec.layers = 3;
    const auto slab = build_slab(build_bulk("Al"), spec);
    CHECK(slab.lattice().row(0).norm() == doctest::Approx(ase["cell_a"].get<double>()).epsilon(1e-6));
    std::vector<double> z;
    for (std::size_t i = 0; i < slab.size(); ++i) z.push_back(slab.cartesian(i)[2]);
    std::sort(z.begin(), z.end());
    CHECK(z[1] - z[0] == doctest::Approx(ase["dz"].get<double>()).epsilon(1e-6));
    // ASE's 'fcc' site: lateral distance to a top-layer atom a/sqrt(6), and no atom of the second layer below.
    const auto sites = find_adsorption_sites(slab);
    const auto& fcc = select_site(sites, "fcc_hollow", "test");
    double lateral_top = 1e9, lateral_second = 1e9;
    for (std::size_t i = 0; i < slab.size(); ++i) {
        Eigen::Vector3d d = slab.minimum_image(slab.to_fractional(fcc.position), slab[i].frac);
        d[2] = 0;
        if (slab[i].layer == 2) lateral_top = std::min(lateral_top, d.norm());
        if (slab[i].layer == 1) lateral_second = std::min(lateral_second, d.norm());
    }
    CHECK(lateral_top == doctest::Approx(ase["li_top_lateral"].get<double>()).epsilon(1e-6));
    CHECK(lateral_second == doctest::Approx(ase["li_second"].get<double>()).epsilon(1e-6));
}

TEST_CASE("free-atom ground-state multiplicities follow Hund's rules") {
    CHECK(atom_ground_state_multiplicity("Li") == 2);
    CHECK(atom_ground_state_multiplicity("O") == 3);
    CHECK(atom_ground_state_multiplicity("N") == 4);
    CHECK(atom_ground_state_multiplicity("Mg") == 1);
    CHECK(atom_ground_state_multiplicity("Cl") == 2);
    CHECK(atom_ground_state_multiplicity("Au") == 0);  // beyond the table: the calculator decides
}
