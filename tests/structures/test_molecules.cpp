// Molecule hosts: the P4S10 cage that stands in for P2S5 (geometry from its bond lengths and
// angle, point group Td confirmed by pymatgen's PointGroupAnalyzer and python3-spglib), the
// box around a molecule, and the Li sites around it: distances, multiplicities of Td orbits,
// equivalences checked with the 24 operations of Td written out here, deterministic names.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

#include "common/errors.hpp"
#include "structures/io.hpp"
#include "structures/molecules.hpp"
#include "structures/prototypes.hpp"
#include "test_paths.hpp"

using namespace interphase;
using namespace interphase::structures;
namespace fs = std::filesystem;
using Vec = Eigen::Vector3d;

namespace {

// The operations of Td for a tetrahedron at alternate corners of a cube centred on the origin,
// (1,1,1), (1,-1,-1), (-1,1,-1), (-1,-1,1): the signed permutation matrices whose signs
// multiply to +1 (they keep x·y·z > 0 for the corners). 6 permutations × 4 sign patterns.
std::vector<Eigen::Matrix3d> td_operations() {
    std::vector<Eigen::Matrix3d> ops;
    int perm[3] = {0, 1, 2};
    do {
        for (int sx : {1, -1})
            for (int sy : {1, -1}) {
                const int sz = sx * sy;  // product of signs +1
                Eigen::Matrix3d m = Eigen::Matrix3d::Zero();
                m(0, perm[0]) = sx;
                m(1, perm[1]) = sy;
                m(2, perm[2]) = sz;
                ops.push_back(m);
            }
    } while (std::next_permutation(perm, perm + 3));
    return ops;
}

Vec box_centre(const Structure& s) { return s.lattice().transpose() * Vec(0.5, 0.5, 0.5); }

std::string xyz_text(const Structure& s) {
    std::ostringstream out;
    out.precision(17);
    out << s.size() << "\n" << s.title << "\n";
    for (std::size_t i = 0; i < s.size(); ++i) {
        const Vec r = s.cartesian(i);
        out << s[i].species << " " << r[0] << " " << r[1] << " " << r[2] << "\n";
    }
    return out.str();
}

// A rotation about a generic axis: turns the cage away from the cube axes of its box.
Eigen::Matrix3d generic_rotation() {
    return Eigen::AngleAxisd(0.7, Vec(0.3, -0.5, 0.8).normalized()).toRotationMatrix();
}

Structure rotated(const Structure& mol, const Eigen::Matrix3d& R) {
    Structure out = mol;
    const Vec c = box_centre(mol);
    for (std::size_t i = 0; i < mol.size(); ++i) out[i].frac = mol.to_fractional(c + R * (mol.cartesian(i) - c));
    return out;
}

}  // namespace

TEST_CASE("P4S10: 14 atoms, bond lengths and angle as built, every P with 3 bridging and 1 terminal S") {
    const Structure m = build_molecule("P4S10");
    CHECK(m.size() == 14);
    CHECK(m.formula() == "P4S10");
    CHECK(m.composition() == std::map<std::string, int>{{"P", 4}, {"S", 10}});
    CHECK(m.pbc() == std::array<bool, 3>{false, false, false});
    CHECK(m.lattice().isApprox(Eigen::Matrix3d::Identity() * kDefaultMoleculeBox));
    CHECK(m.info.at("kind") == "molecule");
    CHECK(m.info.at("citation").get<std::string>().find("Vos & Wiebenga") != std::string::npos);
    CHECK(build_molecule(" p4s10 ").size() == 14);

    // Bonds by distance only (P–S < 2.3 Å; the shortest non-bonded P···S is 4.0 Å).
    int n_bridging = 0, n_terminal = 0;
    for (std::size_t i = 0; i < m.size(); ++i) {
        if (m[i].species == "P") {
            std::vector<double> bonds;
            for (std::size_t j = 0; j < m.size(); ++j)
                if (j != i && m.distance(i, j) < 2.3) {
                    CHECK(m[j].species == "S");
                    bonds.push_back(m.distance(i, j));
                }
            std::sort(bonds.begin(), bonds.end());
            REQUIRE(bonds.size() == 4);
            CHECK(bonds[0] == doctest::Approx(1.95).epsilon(1e-9));
            for (int k = 1; k < 4; ++k) CHECK(bonds[static_cast<std::size_t>(k)] == doctest::Approx(2.09).epsilon(1e-9));
        } else {
            std::vector<std::size_t> p;
            for (std::size_t j = 0; j < m.size(); ++j)
                if (j != i && m.distance(i, j) < 2.3) p.push_back(j);
            for (auto j : p) CHECK(m[j].species == "P");
            if (p.size() == 2) {
                ++n_bridging;
                CHECK(m[i].label == "S_bridging");
                const Vec u = m.cartesian(p[0]) - m.cartesian(i), v = m.cartesian(p[1]) - m.cartesian(i);
                CHECK(std::acos(u.dot(v) / u.norm() / v.norm()) * 180 / M_PI == doctest::Approx(109.0).epsilon(1e-9));
            } else {
                CHECK(p.size() == 1);
                ++n_terminal;
                CHECK(m[i].label == "S_terminal");
            }
        }
    }
    CHECK(n_bridging == 6);
    CHECK(n_terminal == 4);
    // No S–S bond: the shortest S···S contact is far from an S–S bond (2.05 Å).
    double ss = 1e9;
    for (std::size_t i = 0; i < m.size(); ++i)
        for (std::size_t j = i + 1; j < m.size(); ++j)
            if (m[i].species == "S" && m[j].species == "S") ss = std::min(ss, m.distance(i, j));
    CHECK(ss > 3.0);
}

TEST_CASE("P4S10 is Td: our operations, pymatgen's PointGroupAnalyzer and python3-spglib agree") {
    const Structure m = build_molecule("P4S10");
    const MoleculeSymmetry sym = molecule_symmetry(m);
    CHECK(sym.centre.isApprox(box_centre(m), 1e-12));
    REQUIRE(sym.operations.size() == 24);
    CHECK(sym.operations[0].isApprox(Eigen::Matrix3d::Identity()));
    int proper = 0;
    for (const auto& R : sym.operations) {
        CHECK((R * R.transpose()).isApprox(Eigen::Matrix3d::Identity(), 1e-9));
        if (R.determinant() > 0) ++proper;
        CHECK_FALSE(R.isApprox(-Eigen::Matrix3d::Identity()));  // Td has no inversion
    }
    CHECK(proper == 12);  // T
    // The same 24 matrices as Td written out independently.
    for (const auto& T : td_operations()) {
        const bool found = std::any_of(sym.operations.begin(), sym.operations.end(),
                                       [&](const Eigen::Matrix3d& R) { return (R - T).cwiseAbs().maxCoeff() < 1e-9; });
        CHECK(found);
    }
    // The cage turned away from the box axes keeps its 24 operations (spglib on the box would
    // not see them: that is why the point group is found from the coordinates).
    CHECK(molecule_symmetry(rotated(m, generic_rotation())).operations.size() == 24);

    if (!interphase::testing::have_python_module("pymatgen.symmetry.analyzer") ||
        !interphase::testing::have_python_module("spglib")) {
        MESSAGE("pymatgen/spglib not importable: skipping the reference comparison");
        return;
    }
    const fs::path dir = interphase::testing::scratch("molecules-pointgroup");
    std::ofstream(dir / "p4s10.xyz") << xyz_text(m);
    std::ofstream(dir / "rotated.xyz") << xyz_text(rotated(m, generic_rotation()));
    std::ofstream(dir / "ref.py") << R"(import sys, json, numpy as np, spglib
from pymatgen.core import Molecule
from pymatgen.symmetry.analyzer import PointGroupAnalyzer
out = {}
for name in ("p4s10", "rotated"):
    mol = Molecule.from_file(sys.argv[1] + "/" + name + ".xyz")
    pga = PointGroupAnalyzer(mol, tolerance=0.1)
    out[name] = {"sch": pga.sch_symbol, "ops": [op.rotation_matrix.tolist() for op in pga.get_symmetry_operations()]}
box = 15.0
mol = Molecule.from_file(sys.argv[1] + "/p4s10.xyz")
cell = (np.eye(3) * box, mol.cart_coords / box, [site.specie.Z for site in mol])
ds = spglib.get_symmetry_dataset(cell, symprec=1e-3)
out["spglib"] = {"number": int(ds["number"]), "pointgroup": ds["pointgroup"]}
turned = Molecule.from_file(sys.argv[1] + "/rotated.xyz")
ds = spglib.get_symmetry_dataset((np.eye(3) * box, turned.cart_coords / box, [s.specie.Z for s in turned]), symprec=1e-3)
out["spglib_turned"] = {"number": int(ds["number"]), "operations": len(ds["rotations"])}
json.dump(out, open(sys.argv[1] + "/ref.json", "w"))
)";
    const auto [rc, text] = interphase::testing::run_command("/usr/bin/python3 " + (dir / "ref.py").string() + " " +
                                                             dir.string() + " 2>&1");
    REQUIRE_MESSAGE(rc == 0, text);
    nlohmann::json ref;
    std::ifstream(dir / "ref.json") >> ref;
    CHECK(ref["p4s10"]["sch"] == "Td");
    CHECK(ref["rotated"]["sch"] == "Td");
    REQUIRE(ref["p4s10"]["ops"].size() == 24);
    // pymatgen's operations act about the centre of mass, which is our centre for this cage.
    for (const auto& op : ref["p4s10"]["ops"]) {
        Eigen::Matrix3d P;
        for (int r = 0; r < 3; ++r)
            for (int c = 0; c < 3; ++c) P(r, c) = op[static_cast<std::size_t>(r)][static_cast<std::size_t>(c)].get<double>();
        const bool found = std::any_of(sym.operations.begin(), sym.operations.end(),
                                       [&](const Eigen::Matrix3d& R) { return (R - P).cwiseAbs().maxCoeff() < 1e-6; });
        CHECK(found);
    }
    // Aligned with the cube axes, the box has the cage's symmetry: P-43m, point group -43m.
    CHECK(ref["spglib"]["number"] == 215);
    CHECK(ref["spglib"]["pointgroup"] == "-43m");
    // Turned away from the cube axes, the cage's operations do not map the box onto itself:
    // spglib on the box sees only the identity, which is why the point group is ours.
    CHECK(ref["spglib_turned"]["number"] == 1);
    CHECK(ref["spglib_turned"]["operations"] == 1);
}

TEST_CASE("point groups of other molecules agree with pymatgen's PointGroupAnalyzer") {
    // Molecules from files are not all Td: a cage with one terminal S pulled out (C3v), bent
    // H2S (C2v), octahedral SF6 with its S on the centre (Oh), a planar S3 triangle with Li at
    // one corner (C2v), each turned away from the axes.
    auto molecule = [](std::initializer_list<std::pair<const char*, Vec>> atoms) {
        Structure s(Eigen::Matrix3d::Identity() * 20, {false, false, false});
        for (const auto& [sp, r] : atoms) s.add_atom_cartesian(sp, Vec::Constant(10) + generic_rotation() * r);
        return s;
    };
    std::map<std::string, Structure> mols;
    {
        Structure cage = build_molecule("P4S10");
        const Vec c = box_centre(cage);
        for (std::size_t i = 0; i < cage.size(); ++i)
            if (i == 13) cage[i].frac = cage.to_fractional(c + 1.05 * (cage.cartesian(i) - c));
        mols["pulled_cage"] = cage;
    }
    const double h = 1.34, half = 92.1 / 2 * M_PI / 180;
    mols["H2S"] = molecule({{"S", {0, 0, 0}}, {"H", {h * std::sin(half), 0, h * std::cos(half)}},
                            {"H", {-h * std::sin(half), 0, h * std::cos(half)}}});
    mols["SF6"] = molecule({{"S", {0, 0, 0}}, {"F", {1.56, 0, 0}}, {"F", {-1.56, 0, 0}}, {"F", {0, 1.56, 0}},
                            {"F", {0, -1.56, 0}}, {"F", {0, 0, 1.56}}, {"F", {0, 0, -1.56}}});
    mols["S3Li"] = molecule({{"S", {0, 0, 0}}, {"S", {2.1, 0, 0}}, {"S", {1.05, 1.8, 0}}, {"Li", {1.05, -2.0, 0}}});
    const std::map<std::string, std::pair<std::string, std::size_t>> expected = {
        {"pulled_cage", {"C3v", 6}}, {"H2S", {"C2v", 4}}, {"SF6", {"Oh", 48}}, {"S3Li", {"C2v", 4}}};
    std::map<std::string, MoleculeSymmetry> ours;
    for (const auto& [name, m] : mols) {
        CAPTURE(name);
        ours[name] = molecule_symmetry(m);
        CHECK(ours[name].operations.size() == expected.at(name).second);
    }

    // Linear and one-atom molecules have a continuous symmetry: refused, not half-answered.
    CHECK_THROWS_WITH_AS(molecule_symmetry(molecule({{"S", {0, 0, 0}}, {"C", {1.55, 0, 0}}, {"S", {3.1, 0, 0}}})),
                         doctest::Contains("line"), StructureError);
    CHECK_THROWS_AS(molecule_symmetry(molecule({{"Li", {0, 0, 0}}})), StructureError);
    CHECK_THROWS_AS(find_molecule_sites(molecule({{"Li", {0, 0, 0}}})), StructureError);
    CHECK_THROWS_WITH_AS(molecule_symmetry(mols["H2S"], 0.0), doctest::Contains("field 'symprec'"), InputError);

    if (!interphase::testing::have_python_module("pymatgen.symmetry.analyzer")) {
        MESSAGE("pymatgen not importable: skipping the reference comparison");
        return;
    }
    const fs::path dir = interphase::testing::scratch("molecules-pointgroups");
    for (const auto& [name, m] : mols) std::ofstream(dir / (name + ".xyz")) << xyz_text(m);
    std::ofstream(dir / "ref.py") << R"(import sys, json
from pymatgen.core import Molecule
from pymatgen.symmetry.analyzer import PointGroupAnalyzer
out = {}
for name in sys.argv[2:]:
    pga = PointGroupAnalyzer(Molecule.from_file(sys.argv[1] + "/" + name + ".xyz"), tolerance=0.1)
    out[name] = {"sch": pga.sch_symbol, "ops": [op.rotation_matrix.tolist() for op in pga.get_symmetry_operations()]}
json.dump(out, open(sys.argv[1] + "/ref.json", "w"))
)";
    std::string names;
    for (const auto& [name, m] : mols) names += " " + name;
    const auto [rc, text] = interphase::testing::run_command("/usr/bin/python3 " + (dir / "ref.py").string() + " " +
                                                             dir.string() + names + " 2>&1");
    REQUIRE_MESSAGE(rc == 0, text);
    nlohmann::json ref;
    std::ifstream(dir / "ref.json") >> ref;
    for (const auto& [name, m] : mols) {
        CAPTURE(name);
        CHECK(ref[name]["sch"] == expected.at(name).first);
        CHECK(ref[name]["ops"].size() == ours[name].operations.size());
        // Every operation fixes both the centroid and the centre of mass, so the matrices
        // compare directly whatever centre each side uses.
        for (const auto& op : ref[name]["ops"]) {
            Eigen::Matrix3d P;
            for (int r = 0; r < 3; ++r)
                for (int c = 0; c < 3; ++c)
                    P(r, c) = op[static_cast<std::size_t>(r)][static_cast<std::size_t>(c)].get<double>();
            const auto& o = ours[name].operations;
            CHECK(std::any_of(o.begin(), o.end(), [&](const Eigen::Matrix3d& R) { return (R - P).cwiseAbs().maxCoeff() < 1e-4; }));
        }
    }
}

TEST_CASE("molecule_in_box: centred, not periodic, and a box that is too small names `box`") {
    const Structure m = build_molecule("P4S10");
    const Structure turned = rotated(m, generic_rotation());
    const Structure boxed = molecule_in_box(turned, 12.0);
    CHECK(boxed.pbc() == std::array<bool, 3>{false, false, false});
    CHECK(boxed.lattice().isApprox(Eigen::Matrix3d::Identity() * 12.0));
    Vec lo = boxed.cartesian(0), hi = lo;
    for (std::size_t i = 0; i < boxed.size(); ++i) {
        lo = lo.cwiseMin(boxed.cartesian(i));
        hi = hi.cwiseMax(boxed.cartesian(i));
        CHECK(boxed[i].species == turned[i].species);
        CHECK(boxed[i].label == turned[i].label);
    }
    CHECK(((lo + hi) / 2 - Vec::Constant(6.0)).norm() < 1e-12);
    // Rigid shift only: every distance kept.
    for (std::size_t i = 0; i < m.size(); ++i)
        for (std::size_t j = i + 1; j < m.size(); ++j) CHECK(boxed.distance(i, j) == doctest::Approx(m.distance(i, j)));
    CHECK(boxed.info.at("box") == 12.0);
    CHECK(boxed.info.at("clearance").get<double>() == doctest::Approx(12.0 - molecule_extent(turned).maxCoeff()));

    // The cage is 2 d ≈ 4.83 Å wide along x (bridging S on the axes); 5 Å more is needed.
    const double extent = molecule_extent(m).maxCoeff();
    CHECK(extent == doctest::Approx(4.8336).epsilon(1e-3));
    CHECK_NOTHROW(molecule_in_box(m, extent + kMinMoleculeClearance + 1e-9));
    try {
        molecule_in_box(m, extent + kMinMoleculeClearance - 0.01);
        FAIL("a box with 4.99 Å between images was accepted");
    } catch (const InputError& e) {
        CHECK(e.field() == "box");
        const std::string what = e.what();
        CHECK(what.find("P4S10") != std::string::npos);
        CHECK(what.find("extent 4.83") != std::string::npos);
        CHECK(what.find("at least 9.83") != std::string::npos);
    }
    CHECK_NOTHROW(molecule_in_box(m, 6.0, 1.0));  // the clearance is a parameter
    for (double bad : {0.0, -5.0, std::nan(""), std::numeric_limits<double>::infinity()})
        CHECK_THROWS_WITH_AS(molecule_in_box(m, bad), doctest::Contains("field 'box'"), InputError);
    CHECK_THROWS_AS(molecule_in_box(Structure(Eigen::Matrix3d::Identity() * 10), 10.0), InputError);

    // A molecule read from a plain XYZ file (no cell: the reader's own non-periodic box).
    const fs::path dir = interphase::testing::scratch("molecules-xyz");
    std::ofstream(dir / "cage.xyz") << xyz_text(turned);
    const Structure read = read_structure(dir / "cage.xyz");
    const Structure reboxed = molecule_in_box(read, 14.0);
    CHECK(reboxed.size() == 14);
    CHECK(molecule_symmetry(reboxed).operations.size() == 24);
    CHECK(find_molecule_sites(reboxed, {.species = {"S"}}).size() == 4);
}

TEST_CASE("Li sites around P4S10: Td orbits, bond_length to the defining S, nothing closer than min_distance") {
    const Structure m = build_molecule("P4S10");
    const MoleculeSiteSearch search{.species = {"S"}};
    const auto sites = find_molecule_sites(m, search);
    const auto td = td_operations();
    const Vec c = box_centre(m);

    // Expected orbits of Td for this cage: the 4 empty faces of the S6 octahedron (no P cap),
    // the 12 bridging-S/terminal-S pairs, atop the 6 bridging and the 4 terminal S.
    REQUIRE(sites.size() == 4);
    CHECK(sites[0].name == "m1");
    CHECK(sites[0].kind == MoleculeSiteKind::Hollow);
    CHECK(sites[0].coordination == "S3");
    CHECK(sites[0].multiplicity == 4);
    for (auto a : sites[0].atoms) CHECK(m[a].label == "S_bridging");
    CHECK(sites[1].kind == MoleculeSiteKind::Bridge);
    CHECK(sites[1].coordination == "S2");
    CHECK(sites[1].multiplicity == 12);
    CHECK(m[sites[1].atoms[0]].label == "S_bridging");
    CHECK(m[sites[1].atoms[1]].label == "S_terminal");
    CHECK(sites[2].kind == MoleculeSiteKind::Atop);
    CHECK(sites[2].coordination == "S1");
    CHECK(sites[2].multiplicity == 6);
    CHECK(m[sites[2].atoms[0]].label == "S_bridging");
    CHECK(sites[3].kind == MoleculeSiteKind::Atop);
    CHECK(sites[3].coordination == "S1");
    CHECK(sites[3].multiplicity == 4);
    CHECK(m[sites[3].atoms[0]].label == "S_terminal");

    int total = 0;
    for (std::size_t k = 0; k < sites.size(); ++k) {
        const auto& s = sites[k];
        CAPTURE(s.name);
        CHECK(s.name == "m" + std::to_string(k + 1));
        CHECK(24 % s.multiplicity == 0);  // an orbit size divides the group order
        total += s.multiplicity;
        REQUIRE(s.equivalent_positions.size() == static_cast<std::size_t>(s.multiplicity));
        CHECK((s.equivalent_positions[0] - s.position).norm() < 1e-12);
        // Every copy: bond_length from its nearest atoms (the defining S of that copy), no
        // other atom closer than min_distance.
        for (const auto& p : s.equivalent_positions) {
            std::vector<double> d;
            for (std::size_t i = 0; i < m.size(); ++i) d.push_back((m.cartesian(i) - p).norm());
            std::sort(d.begin(), d.end());
            const std::size_t n = s.atoms.size();
            for (std::size_t i = 0; i < n; ++i) CHECK(d[i] == doctest::Approx(search.bond_length).epsilon(1e-6));
            CHECK(d[n] >= search.min_distance);
        }
        for (auto a : s.atoms) CHECK((m.cartesian(a) - s.position).norm() == doctest::Approx(2.4).epsilon(1e-9));
        CHECK(s.distance == doctest::Approx(2.4).epsilon(1e-9));
        // Outward: away from the centre, seen from the defining atoms.
        Vec def = Vec::Zero();
        for (auto a : s.atoms) def += m.cartesian(a) / static_cast<double>(s.atoms.size());
        CHECK((s.position - def).dot(def - c) > 0);
        // The copies are exactly the images of the site under Td (applied here independently).
        std::vector<Vec> images;
        for (const auto& T : td) {
            const Vec img = c + T * (s.position - c);
            if (std::none_of(images.begin(), images.end(), [&](const Vec& v) { return (v - img).norm() < 1e-6; }))
                images.push_back(img);
        }
        CHECK(images.size() == static_cast<std::size_t>(s.multiplicity));
        for (const auto& p : s.equivalent_positions) {
            const bool is_image = std::any_of(images.begin(), images.end(), [&](const Vec& v) { return (v - p).norm() < 1e-6; });
            CHECK(is_image);
        }
        // Distinct sites are not related by any operation.
        for (std::size_t l = k + 1; l < sites.size(); ++l)
            for (const auto& T : td) CHECK((c + T * (s.position - c) - sites[l].position).norm() > 0.1);
    }
    CHECK(total == 26);

    // Letting Li bind to P too (the default: every species) adds hollows over one P and two S
    // and nothing else; the Li–S sites keep their names.
    const auto all = find_molecule_sites(m);
    CHECK(all.size() > sites.size());
    int with_p = 0;
    for (const auto& s : all) {
        if (s.coordination == "P1S2") {
            ++with_p;
            CHECK(s.kind == MoleculeSiteKind::Hollow);
            CHECK(24 % s.multiplicity == 0);
        } else {
            const bool listed = std::any_of(sites.begin(), sites.end(), [&](const MoleculeSite& t) {
                return (t.position - s.position).norm() < 1e-9 && t.multiplicity == s.multiplicity;
            });
            CHECK(listed);
        }
    }
    CHECK(with_p + static_cast<int>(sites.size()) == static_cast<int>(all.size()));
    // A smaller min_distance admits the bridge over two bridging S that sits 2.08 Å from a P.
    MoleculeSiteSearch loose = search;
    loose.min_distance = 2.0;
    const auto more = find_molecule_sites(m, loose);
    CHECK(more.size() > sites.size());
    for (const auto& s : more)
        for (const auto& p : s.equivalent_positions)
            for (std::size_t i = 0; i < m.size(); ++i) CHECK((m.cartesian(i) - p).norm() >= 2.0 - 1e-9);

    // Bad parameters name their field.
    MoleculeSiteSearch bad = search;
    bad.bond_length = -1;
    CHECK_THROWS_WITH_AS(find_molecule_sites(m, bad), doctest::Contains("field 'bond_length'"), InputError);
    bad = search;
    bad.species = {"Cl"};
    CHECK_THROWS_WITH_AS(find_molecule_sites(m, bad), doctest::Contains("field 'species'"), InputError);
    CHECK_THROWS_WITH_AS(select_molecule_site(sites, "m9"), doctest::Contains("m1, m2, m3, m4"), InputError);
    CHECK(select_molecule_site(sites, "m3").multiplicity == 6);
}

TEST_CASE("molecule sites are deterministic and follow the molecule when it is turned") {
    const Structure m = build_molecule("P4S10");
    const auto a = find_molecule_sites(m, {.species = {"S"}});
    const auto b = find_molecule_sites(m, {.species = {"S"}});
    REQUIRE(a.size() == b.size());
    for (std::size_t k = 0; k < a.size(); ++k) {
        CHECK(a[k].name == b[k].name);
        CHECK(a[k].atoms == b[k].atoms);
        CHECK(a[k].position == b[k].position);
        CHECK(a[k].equivalent_positions == b[k].equivalent_positions);
    }
    // Same atoms in the same order, turned: the same names on the same atoms, positions turned.
    const Eigen::Matrix3d R = generic_rotation();
    const auto t = find_molecule_sites(rotated(m, R), {.species = {"S"}});
    REQUIRE(t.size() == a.size());
    const Vec c = box_centre(m);
    for (std::size_t k = 0; k < a.size(); ++k) {
        CAPTURE(a[k].name);
        CHECK(t[k].atoms == a[k].atoms);
        CHECK(t[k].multiplicity == a[k].multiplicity);
        CHECK((t[k].position - (c + R * (a[k].position - c))).norm() < 1e-6);
    }
}

TEST_CASE("add_site_atom: the Li–P4S10 complex, and a box too small for it") {
    const Structure m = build_molecule("P4S10");
    const auto sites = find_molecule_sites(m, {.species = {"S"}});
    double widest = 0;
    for (const auto& s : sites) {
        const Structure x = add_site_atom(m, s);
        REQUIRE(x.size() == 15);
        CHECK(x[14].species == "Li");
        CHECK(x[14].label == "adsorbate");
        CHECK((x.cartesian(14) - s.position).norm() < 1e-9);
        CHECK(x.formula() == "LiP4S10");
        double nearest = 1e9;
        for (std::size_t i = 0; i < 14; ++i) nearest = std::min(nearest, x.distance(i, 14));
        CHECK(nearest == doctest::Approx(2.4).epsilon(1e-9));
        CHECK(x.info.at("site").at("name") == s.name);
        CHECK(x.pbc() == m.pbc());
        widest = std::max(widest, molecule_extent(x).maxCoeff());
    }
    // Atop a bridging S the complex spans d + d + 2.4 Å along a cube axis (d = 2.4168 Å).
    CHECK(widest == doctest::Approx(2 * 2.4168 + 2.4).epsilon(1e-4));
    CHECK(kDefaultMoleculeBox - widest > 7.7);
    // Atop a terminal S the complex is 6.13 Å wide: a 10 Å box holds the cage (clearance
    // 5.17 Å) but not the complex.
    const Structure small = molecule_in_box(m, 10.0);
    const auto small_sites = find_molecule_sites(small, {.species = {"S"}});
    REQUIRE(small_sites.size() == 4);
    CHECK_THROWS_WITH_AS(add_site_atom(small, small_sites[3]), doctest::Contains("use a box of at least"), StructureError);
    CHECK_THROWS_WITH_AS(add_site_atom(m, sites[0], "Xx"), doctest::Contains("field 'species'"), InputError);

    // A site stored by one task and read back by the next builds the same complex.
    for (const auto& s : sites) {
        const MoleculeSite back = molecule_site_from_json(nlohmann::json::parse(to_json(s).dump()), "stored");
        CHECK(back.name == s.name);
        CHECK(back.kind == s.kind);
        CHECK(back.atoms == s.atoms);
        CHECK(back.coordination == s.coordination);
        CHECK(back.multiplicity == s.multiplicity);
        CHECK(back.equivalent_positions.size() == s.equivalent_positions.size());
        CHECK((add_site_atom(m, back).cartesian(14) - add_site_atom(m, s).cartesian(14)).norm() < 1e-12);
    }
    nlohmann::json broken = to_json(sites[0]);
    broken["position"] = {1.0, "x", 2.0};
    CHECK_THROWS_WITH_AS(molecule_site_from_json(broken, "stored"), doctest::Contains("field 'position'"), InputError);
    broken = to_json(sites[0]);
    broken.erase("kind");
    CHECK_THROWS_WITH_AS(molecule_site_from_json(broken, "stored"), doctest::Contains("field 'kind'"), InputError);
    broken = to_json(sites[0]);
    broken["multiplicity"] = 5;
    CHECK_THROWS_WITH_AS(molecule_site_from_json(broken, "stored"), doctest::Contains("field 'multiplicity'"), InputError);
}

TEST_CASE("unknown molecule names: InputError listing the known ones") {
    CHECK(molecule_names() == std::vector<std::string>{"P4S10"});
    try {
        build_molecule("P4S1O");
        FAIL("unknown molecule accepted");
    } catch (const InputError& e) {
        CHECK(e.field() == "molecule");
        const std::string what = e.what();
        CHECK(what.find("did you mean 'P4S10'") != std::string::npos);
        CHECK(what.find("known: P4S10") != std::string::npos);
    }
    CHECK_THROWS_AS(build_molecule(""), InputError);
    // P2S5 asked for as a crystal phase points to the molecule model.
    CHECK(not_shipped_reason("P2S5").value().find("build_molecule(\"P4S10\")") != std::string::npos);
}
