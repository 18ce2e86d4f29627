// Slab builder and adsorption-site finder: geometry checked against crystallography (d_hkl,
// atoms per plane) and against ASE's own fcc111 builder (Debian python3-ase) where it applies.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <fmt/format.h>
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
#include "structures/symmetry.hpp"
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
    // Three cuts per period (S|Li, Li|Li, Li|S); inversion at S maps S|Li onto Li|S: two unique.
    REQUIRE(terms.size() == 2);
    CHECK(terms[0].top_species == "Li");
    CHECK(terms[0].bottom_species == "Li");
    CHECK(terms[0].name == "Li|Li");
    CHECK(terms[0].multiplicity == 1);
    CHECK(terms[0].symmetric);
    CHECK(terms[1].name == "S|Li");
    CHECK(terms[1].multiplicity == 2);
    CHECK_FALSE(terms[1].symmetric);
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

// ---------------------------------------------------------------------------------------------
// Terminations in depth: polarity, symmetric slabs, broken bonds, stoichiometry, metadata.

namespace {
/// Does spglib find an operation of the slab that turns it over (z -> -z)? An independent check
/// of the builder's own symmetry reasoning, which works with the bulk operations.
bool spglib_flips(const Structure& slab) {
    const auto ds = analyze_symmetry(slab, 1e-3);
    for (const auto& r : ds.rotations)
        if (r(2, 0) == 0 && r(2, 1) == 0 && r(2, 2) == -1) return true;
    return false;
}

/// Zinc blende with Li and Cl (F-43m): no operation flips [111], so (111) has no symmetric slab.
Structure zincblende() {
    Structure s(Eigen::Matrix3d::Identity() * 5.4);
    s.title = "LiCl-zb";
    for (const auto& f : {Eigen::Vector3d(0, 0, 0), Eigen::Vector3d(0, 0.5, 0.5), Eigen::Vector3d(0.5, 0, 0.5),
                          Eigen::Vector3d(0.5, 0.5, 0)}) {
        s.add_atom("Li", f);
        s.add_atom("Cl", f + Eigen::Vector3d(0.25, 0.25, 0.25));
    }
    return s;
}
}  // namespace

TEST_CASE("polarity: LiCl(111) alternates charged planes (dipole N d/2 per cell), LiCl(100) does not") {
    const auto bulk = build_bulk("LiCl");
    const double a = a_of(bulk);
    CHECK(formal_charges(bulk) == std::map<std::string, double>{{"Cl", -1}, {"Li", 1}});
    SlabSpec spec;
    spec.miller = {1, 1, 1};
    spec.layers = 4;
    const auto polar = build_slab(bulk, spec);
    CHECK(terminations(bulk, {1, 1, 1}).size() == 1);  // Li|Cl and Cl|Li are one cut turned over
    CHECK(polar.size() == 8);
    CHECK(polar.info["polar"].get<bool>());
    CHECK_FALSE(polar.info["symmetric"].get<bool>());
    CHECK_FALSE(spglib_flips(polar));
    const double d = a / std::sqrt(3.0), area = std::sqrt(3.0) * a * a / 4;
    CHECK(std::abs(polar.info["dipole_per_area"].get<double>()) == doctest::Approx(4 * (d / 2) / area).epsilon(1e-9));
    CHECK(std::abs(dipole_per_area(polar, {{"Li", 1}, {"Cl", -1}})) == doctest::Approx(4 * (d / 2) / area));
    // The same slab is not polar for a user who declares the charges zero.
    spec.charges = {{"Li", 0}, {"Cl", 0}};
    CHECK_FALSE(build_slab(bulk, spec).info["polar"].get<bool>());

    spec = SlabSpec{};
    spec.miller = {1, 0, 0};
    const auto flat = build_slab(bulk, spec);
    CHECK_FALSE(flat.info["polar"].get<bool>());
    CHECK(std::abs(flat.info["dipole_per_area"].get<double>()) < 1e-9);
    CHECK(flat.info["symmetric"].get<bool>());
    CHECK(spglib_flips(flat));
}

TEST_CASE("formal charges: neutral assignments in preference order, metals zero") {
    CHECK(formal_charges(build_bulk("Li3P")) == std::map<std::string, double>{{"Li", 1}, {"P", -3}});
    CHECK(formal_charges(build_bulk("Li2S")) == std::map<std::string, double>{{"Li", 1}, {"S", -2}});
    CHECK(formal_charges(build_bulk("LiAl")) == std::map<std::string, double>{{"Al", 0}, {"Li", 0}});
    CHECK(formal_charges(build_bulk("Al")) == std::map<std::string, double>{{"Al", 0}});
    Structure p2s5(Eigen::Matrix3d::Identity() * 10);  // only the composition matters: P4S10
    for (int i = 0; i < 4; ++i) p2s5.add_atom("P", Eigen::Vector3d(0.1 * i, 0, 0));
    for (int i = 0; i < 10; ++i) p2s5.add_atom("S", Eigen::Vector3d(0.1 * i, 0.5, 0.5));
    CHECK(formal_charges(p2s5) == std::map<std::string, double>{{"P", 5}, {"S", -2}});
}

TEST_CASE("symmetric slabs: planes added at the bottom until spglib finds a flip; Tasker 3 refused") {
    const auto bulk = build_bulk("Li2S");
    SlabSpec spec;
    spec.miller = {1, 1, 1};
    spec.layers = 3;
    spec.termination_species = "S";
    const auto plain = build_slab(bulk, spec);
    CHECK(plain.info["termination_label"] == "S|Li");
    CHECK_FALSE(plain.info["symmetric"].get<bool>());
    CHECK_FALSE(spglib_flips(plain));
    CHECK(plain.info["polar"].get<bool>());  // per period Li, Li, S at 0, d/2, 3d/4: dipole -d per cell
    CHECK(plain.info["stoichiometric"].get<bool>());

    spec.symmetric = true;
    const auto sym = build_slab(bulk, spec);
    CHECK(sym.info["symmetric"].get<bool>());
    CHECK(spglib_flips(sym));
    CHECK(sym.info["termination_label"] == "S|S");
    CHECK(sym.size() == plain.size() + 1);   // one S plane added below
    CHECK(sym.formula() == "Li6S4");
    CHECK_FALSE(sym.info["stoichiometric"].get<bool>());
    CHECK(sym.info["excess"] == nlohmann::json{{"S", 1.0}});
    CHECK_FALSE(sym.info["polar"].get<bool>());  // symmetric: no dipole, even though charged
    CHECK(sym.info["thickness"].get<double>() > plain.info["thickness"].get<double>());

    // Every distinct face once: Li|Li (already symmetric), S|S and the Li face of the S|Li cut.
    const SlabGenerator gen(bulk, spec);
    const auto all = gen.all_slabs(spec);
    REQUIRE(all.size() == 3);
    for (const auto& s : all) {
        CHECK(s.info["symmetric"].get<bool>());
        CHECK(spglib_flips(s));
    }
    CHECK(all[0].info["stoichiometric"].get<bool>());

    // Zinc blende (111): two unique cuts, both polar, and no operation can turn them over.
    const auto zb = zincblende();
    const auto zterms = terminations(zb, {1, 1, 1});
    CHECK(zterms.size() == 2);
    SlabSpec zspec;
    zspec.miller = {1, 1, 1};
    CHECK(build_slab(zb, zspec).info["polar"].get<bool>());
    zspec.symmetric = true;
    CHECK_THROWS_AS(build_slab(zb, zspec), StructureError);
}

TEST_CASE("broken bonds: fcc(111) cuts 3 bonds per surface atom, fcc(100) 4") {
    const auto bulk = build_bulk("Al");
    const double a = a_of(bulk);
    const auto t111 = terminations(bulk, {1, 1, 1});
    REQUIRE(t111.size() == 1);
    CHECK(t111[0].broken_bonds == doctest::Approx(3));
    CHECK(t111[0].broken_bonds_per_area == doctest::Approx(3 / (std::sqrt(3.0) * a * a / 4)));
    const auto t100 = terminations(bulk, {1, 0, 0});
    REQUIRE(t100.size() == 1);
    CHECK(t100[0].broken_bonds == doctest::Approx(4));
    // Li2S(111), planes S(0) Li(d/4) Li(3d/4) S(d): each Li has 3 S neighbours d/4 away along the
    // normal and 1 S 3d/4 away. The Li|Li cut (at d/2) breaks the two long bonds; the S|Li cut
    // (at d/8) breaks the 3 short bonds of Li(d/4) and the long one of Li(3d/4): 4.
    SlabSpec ionic;
    ionic.miller = {1, 1, 1};
    ionic.bond_scale = 1.1;  // Li–S (2.47 Å) only
    const SlabGenerator gen(build_bulk("Li2S"), ionic);
    CHECK(gen.terminations()[0].name == "Li|Li");
    CHECK(gen.terminations()[0].broken_bonds == doctest::Approx(2));
    CHECK(gen.terminations()[1].broken_bonds == doctest::Approx(4));
    // With the default 1.2 the Li–Li contacts (a/2 = 2.85 Å < 1.2 x 2.56 Å) count too: more bonds.
    CHECK(terminations(build_bulk("Li2S"), {1, 1, 1})[0].broken_bonds > 2);
}

TEST_CASE("thickness in whole oriented cells of pymatgen, or in planes (in_unit_planes)") {
    const auto bulk = build_bulk("Al");
    SlabSpec spec;
    spec.miller = {1, 0, 0};
    spec.thickness = 10.0;  // pymatgen's c is a (4.05 Å): 3 cells of 2 planes -> 6 atoms
    const SlabGenerator gen(bulk, spec);
    CHECK(gen.pymatgen_cells(spec) == 3);
    const auto s = gen.slab(spec);
    CHECK(s.size() == 6);
    CHECK(s.info["atomic_layers"] == 6);
    CHECK(s.info["pymatgen"]["oriented_cells"] == 3);
    spec.in_unit_planes = true;
    spec.thickness = 2.5;   // planes d_100 = a of the input cell: ceil(2.5) = 3 cells again
    spec.vacuum = 2;        // and 2 x 4.05 Å of vacuum
    const auto p = gen.slab(spec);
    CHECK(p.size() == 6);
    CHECK(p.info["vacuum"].get<double>() == doctest::Approx(2 * a_of(bulk)));
    CHECK(p.lattice()(2, 2) == doctest::Approx(p.info["thickness"].get<double>() + 2 * a_of(bulk)));
}

TEST_CASE("hexagonal 4-index Miller input: Li3P (10-10) = (100), (11-20) = (110), (0001) = (001)") {
    const auto bulk = build_bulk("Li3P");
    CHECK(parse_miller("1,0,-1,0", "--miller") == std::array<int, 3>{1, 0, 0});
    CHECK(parse_miller("(1 1 -2 0)", "--miller") == std::array<int, 3>{1, 1, 0});
    CHECK(parse_miller("0,0,0,1", "--miller") == std::array<int, 3>{0, 0, 1});
    CHECK_THROWS_AS(parse_miller("1,1,1,0", "--miller"), InputError);
    SlabSpec spec;
    spec.miller = parse_miller("0,0,0,1", "--miller");
    const auto terms = terminations(bulk, spec.miller);
    REQUIRE(terms.size() == 2);
    const auto slab = build_slab(bulk, spec);
    CHECK(slab.info["miller"] == nlohmann::json{0, 0, 1});
    CHECK(slab.info["d_hkl"].get<double>() == doctest::Approx(7.59));  // the lattice period along c
    CHECK(slab.info["area"].get<double>() == doctest::Approx(std::sqrt(3.0) / 2 * 4.27 * 4.27));
}

TEST_CASE("summary.json and per-slab files: every termination with its metadata") {
    const auto bulk = build_bulk("Li2S");
    SlabSpec spec;
    spec.miller = {1, 1, 1};
    spec.thickness = 10;
    spec.vacuum = 10;
    spec.fix_bottom = 1.0;
    const SlabGenerator gen(bulk, spec);
    const auto slabs = gen.all_slabs(spec);
    const auto dir = testing::scratch("slab-summary");
    const auto summary = write_slabs(dir / "out", gen, spec, slabs, "cif");
    nlohmann::json read;
    std::ifstream(dir / "out" / "summary.json") >> read;
    CHECK(read == summary);
    CHECK(read["bulk"] == "Li2S");
    CHECK(read["miller"] == nlohmann::json{1, 1, 1});
    CHECK(read["parameters"]["thickness"] == 10.0);
    CHECK(read["pymatgen"]["oriented_cells"] == 4);  // h = d_111 = 3.30 Å: ceil(10 / 3.30)
    CHECK(read["pymatgen"]["candidate_shifts"].size() == 3);
    REQUIRE(read["slabs"].size() == 2);
    std::map<std::string, nlohmann::json> by_label;
    for (const auto& e : read["slabs"]) by_label[e["label"].get<std::string>()] = e;
    REQUIRE(by_label.count("Li|Li"));
    REQUIRE(by_label.count("S|Li"));
    const auto& li = by_label["Li|Li"];
    const auto& s = by_label["S|Li"];
    CHECK(li["symmetric"] == true);
    CHECK(li["polar"] == false);
    CHECK(s["symmetric"] == false);
    CHECK(s["polar"] == true);
    CHECK(li["atoms"] == 12);
    CHECK(s["atoms"] == 12);
    CHECK(li["formula"] == "Li8S4");
    CHECK(li["stoichiometric"] == true);
    CHECK(li["shift"].get<double>() == doctest::Approx(0.5));   // the Li–Li gap at d/2
    CHECK(s["broken_bonds"].get<double>() > li["broken_bonds"].get<double>());
    for (const auto& e : read["slabs"]) {
        const auto file = dir / "out" / e["file"].get<std::string>();
        REQUIRE(std::filesystem::exists(file));
        CHECK(file.extension() == ".cif");
        const auto back = read_structure(file);
        CHECK(back.size() == e["atoms"].get<std::size_t>());
        CHECK(back.formula() == e["formula"].get<std::string>());
        int fixed = 0;
        for (const auto& at : back.atoms()) fixed += at.fixed;
        CHECK(fixed == e["fixed_atoms"].get<int>());
        CHECK(fixed > 0);
        // The CIF carries the metadata as comments before data_.
        std::ifstream in(file);
        const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        CHECK(text.find(fmt::format("#   termination_label = \"{}\"", e["label"].get<std::string>())) != std::string::npos);
        CHECK(text.find("#   miller = [1,1,1]") != std::string::npos);
        CHECK(text.find("#   area = ") != std::string::npos);
        CHECK(text.find("#   shift = ") != std::string::npos);
    }
    // Extended XYZ keeps the metadata in its comment line, read back into info.
    write_slab(dir / "one.extxyz", slabs[1]);
    const auto xyz = read_structure(dir / "one.extxyz");
    CHECK(xyz.info["termination_label"] == slabs[1].info["termination_label"]);
    CHECK(xyz.info["shift"].get<double>() == doctest::Approx(slabs[1].info["shift"].get<double>()));
    CHECK(xyz.info["area"].get<double>() == doctest::Approx(slabs[1].info["area"].get<double>()));
    CHECK_THROWS_AS(write_slabs(dir / "bad", gen, spec, slabs, "pdb"), InputError);
}

TEST_CASE("bad slab input is an InputError naming the field") {
    const auto bulk = build_bulk("Li2S");
    auto field_of = [&](SlabSpec spec) {
        try {
            build_slab(bulk, spec);
        } catch (const InputError& e) {
            return e.field();
        }
        return std::string("(no error)");
    };
    SlabSpec spec;
    spec.thickness = -1.0;
    CHECK(field_of(spec) == "thickness");
    spec.thickness = std::nan("");
    CHECK(field_of(spec) == "thickness");
    spec = SlabSpec{};
    spec.miller = {0, 0, 0};
    CHECK(field_of(spec) == "miller");
    spec = SlabSpec{};
    spec.vacuum = -2;
    CHECK(field_of(spec) == "vacuum");
    spec = SlabSpec{};
    spec.supercell = {0, 1};
    CHECK(field_of(spec) == "supercell");
    spec = SlabSpec{};
    spec.termination_index = 7;
    CHECK(field_of(spec) == "termination");
    spec = SlabSpec{};
    spec.plane_tolerance = 0;
    CHECK(field_of(spec) == "plane_tolerance");
    try {
        parse_miller("0 0 0", "--miller");
        FAIL("no error");
    } catch (const InputError& e) {
        CHECK(e.source() == "--miller");
        CHECK(std::string(e.what()).find("--miller") != std::string::npos);
    }
    Structure empty(Eigen::Matrix3d::Identity() * 4);
    CHECK_THROWS_AS(terminations(empty, {1, 0, 0}), InputError);
}

TEST_CASE("crystal_operations: as many point operations as spglib, each mapping the crystal onto itself") {
    for (const auto& name : {"Li", "Al", "LiAl", "Li2S", "Li3P", "LiCl"}) {
        CAPTURE(name);
        const auto bulk = build_bulk(name);
        const auto ops = crystal_operations(bulk);
        CHECK(ops.size() == analyze_symmetry(primitive_of(bulk)).rotations.size());
        for (const auto& [W, w] : ops) {
            CHECK((W.transpose() * W - Eigen::Matrix3d::Identity()).norm() < 1e-9);
            for (std::size_t i = 0; i < bulk.size(); ++i) {
                const Eigen::Vector3d f = bulk.to_fractional(W * bulk.cartesian(i) + w);
                double best = 1e9;
                for (std::size_t j = 0; j < bulk.size(); ++j)
                    if (bulk[j].species == bulk[i].species) best = std::min(best, bulk.minimum_image(bulk[j].frac, f).norm());
                CHECK(best < 1e-6);
            }
        }
    }
    CHECK(crystal_operations(build_bulk("Al")).size() == 48);
    CHECK(crystal_operations(build_bulk("Li3P")).size() == 24);
    CHECK(crystal_operations(zincblende()).size() == 24);  // F-43m: no inversion
}

TEST_CASE("a slightly noisy bulk (2 mÅ) keeps its terminations with a looser symprec, and never crashes") {
    auto bulk = build_bulk("Li2S");
    for (std::size_t i = 0; i < bulk.size(); ++i) {
        const double k = static_cast<double>(i);
        bulk[i].frac += bulk.to_fractional(0.002 * Eigen::Vector3d(std::sin(k), std::cos(3 * k), std::sin(7 * k)));
    }
    SlabSpec spec;
    spec.miller = {1, 1, 1};
    spec.symprec = 0.05;
    const SlabGenerator gen(bulk, spec);
    CHECK(gen.terminations().size() == 2);
    CHECK(gen.terminations()[0].name == "Li|Li");
    spec.symprec = 0.01;  // tighter than the noise: more (false) terminations, still slabs
    const SlabGenerator tight(bulk, spec);
    CHECK(tight.terminations().size() >= 2);
    CHECK_FALSE(tight.all_slabs(spec).empty());
}
