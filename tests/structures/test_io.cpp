// Structure file formats (POSCAR, CIF, extended XYZ): lossless round trips of a tagged slab-like
// structure, agreement with Debian's python3-ase 3.22 in both directions (files ASE writes are
// read as ASE reads them; files we write are read by ASE as we read them), symmetry expansion
// of CIFs, and bad input that must fail with a typed error naming the file and line, never a
// crash.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common/errors.hpp"
#include "structures/io.hpp"
#include "test_paths.hpp"

using namespace interphase;
using namespace interphase::structures;
namespace fs = std::filesystem;

namespace {

const char* kPython = "/usr/bin/python3";

void write_text(const fs::path& p, const std::string& text) {
    std::ofstream out(p, std::ios::binary);
    out << text;
}

/// A small triclinic cell in the standard orientation (CIF keeps only lengths and angles) with
/// interleaved species, fixed atoms, layers, labels and metadata of every JSON kind.
Structure tagged_sample() {
    Structure s(lattice_from_parameters(5.1, 6.2, 14.3, 88.0, 95.0, 101.0));
    s.title = "Li2S/Li3PS4 test slab";
    struct A { const char* sp; double x, y, z; bool fixed; int layer; const char* label; };
    const A atoms[] = {
        {"Li", 0.10, 0.20, 0.05, true, 0, "bulk"},     {"S", 0.60, 0.70, 0.08, true, 0, ""},
        {"Li", 0.35, 0.45, 0.21, false, 1, "A"},       {"P", 0.85, 0.15, 0.24, false, 1, "B"},
        {"S", 0.123456789012, 0.9, 0.37, false, 2, ""}, {"O", 0.5, 0.0, 0.40, false, -1, "adsorbate"},
        {"Li", 0.999, 0.001, 0.55, false, 2, "A"},
    };
    for (const auto& a : atoms) {
        Atom& at = s.add_atom(a.sp, Eigen::Vector3d(a.x, a.y, a.z));
        at.fixed = a.fixed;
        at.layer = a.layer;
        at.label = a.label;
    }
    s.info = {{"miller", {1, 1, 1}},    {"termination", "S-rich top"}, {"shift", 0.25},
              {"n_layers", 3},          {"relaxed", false},            {"unit_energy", 1.0},
              {"code", "42"},           {"flags", {true, false}},      {"nested", {{"a", 1}, {"b", "x y"}}},
              {"single", {7}},          {"empty", ""},                 {"quote", "say \"hi\" \\ there"}};
    return s;
}

void check_lattice(const Structure& a, const Structure& b, double tol = 1e-8) {
    CHECK((a.lattice() - b.lattice()).cwiseAbs().maxCoeff() < tol);
}

/// Same atoms in the same order; `tags` also compares fixed, layer and label.
void check_atoms(const Structure& a, const Structure& b, bool tags, double tol = 1e-8) {
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        CAPTURE(i);
        CHECK(a[i].species == b[i].species);
        CHECK((a[i].frac - b[i].frac).cwiseAbs().maxCoeff() < tol);
        if (tags) {
            CHECK(a[i].fixed == b[i].fixed);
            CHECK(a[i].layer == b[i].layer);
            CHECK(a[i].label == b[i].label);
        }
    }
}

/// Runs a Python script inside `dir`; true on success.
bool run_python(const fs::path& dir, const std::string& script) {
    write_text(dir / "script.py", script);
    const std::string cmd = "cd '" + dir.string() + "' && " + kPython + " script.py > script.log 2>&1";
    const bool ok = std::system(cmd.c_str()) == 0;
    if (!ok) MESSAGE("python failed: " << interphase::testing::slurp(dir / "script.log"));
    return ok;
}

// Python helper shared by the ASE scripts: what ASE itself reports for a file.
const char* kAseDump = R"(
import json, numpy as np, ase.io
from ase.constraints import FixAtoms
def plain(v):
    if isinstance(v, np.ndarray): return v.tolist()
    if isinstance(v, (np.integer,)): return int(v)
    if isinstance(v, (np.floating,)): return float(v)
    if isinstance(v, (np.bool_,)): return bool(v)
    return v
def dump(atoms):
    fixed = []
    for c in atoms.constraints:
        if isinstance(c, FixAtoms): fixed += [int(i) for i in c.index]
    info = {}
    for k, v in atoms.info.items():
        try:
            json.dumps(plain(v)); info[k] = plain(v)
        except TypeError:
            pass
    return {'symbols': atoms.get_chemical_symbols(), 'positions': atoms.get_positions().tolist(),
            'cell': atoms.get_cell().tolist(), 'pbc': [bool(p) for p in atoms.get_pbc()],
            'fixed': sorted(fixed), 'info': info}
)";

/// Compares our reading of a file with ASE's (JSON from kAseDump): count, species, cell and
/// Cartesian positions to 1e-5 Å, in file order.
void check_same_as_ase(const Structure& s, const nlohmann::json& ase, double tol = 1e-5) {
    REQUIRE(s.size() == ase["symbols"].size());
    for (int r = 0; r < 3; ++r)
        for (int c = 0; c < 3; ++c)
            CHECK(std::abs(s.lattice()(r, c) - ase["cell"][r][c].get<double>()) < tol);
    for (std::size_t i = 0; i < s.size(); ++i) {
        CAPTURE(i);
        CHECK(s[i].species == ase["symbols"][i].get<std::string>());
        const Eigen::Vector3d p = s.cartesian(i);
        for (int k = 0; k < 3; ++k) CHECK(std::abs(p[k] - ase["positions"][i][k].get<double>()) < tol);
    }
}

/// The 192 operations of Fm-3m written out as CIF strings: the 48 signed permutations of
/// x, y, z combined with the four face-centring translations.
std::vector<std::string> fm3m_operations() {
    const char* perms[6][3] = {{"x", "y", "z"}, {"y", "z", "x"}, {"z", "x", "y"},
                               {"y", "x", "z"}, {"x", "z", "y"}, {"z", "y", "x"}};
    const char* centring[4][3] = {{"", "", ""}, {"", "+1/2", "+1/2"}, {"+1/2", "", "+1/2"}, {"+1/2", "+1/2", ""}};
    std::vector<std::string> ops;
    for (const auto& c : centring)
        for (const auto& p : perms)
            for (int signs = 0; signs < 8; ++signs) {
                std::string op;
                for (int k = 0; k < 3; ++k) {
                    if (k) op += ", ";
                    op += std::string((signs >> k) & 1 ? "-" : "") + p[k] + c[k];
                }
                ops.push_back(op);
            }
    return ops;
}

std::string licl_cif(bool with_operations) {
    std::string cif =
        "data_LiCl\n"
        "_cell_length_a 5.1295(3)\n_cell_length_b 5.1295(3)\n_cell_length_c 5.1295(3)\n"
        "_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 90\n"
        "_symmetry_space_group_name_H-M 'F m -3 m'\n_symmetry_Int_Tables_number 225\n";
    if (with_operations) {
        cif += "loop_\n_symmetry_equiv_pos_as_xyz\n";
        for (const auto& op : fm3m_operations()) cif += "'" + op + "'\n";
    }
    // No type symbols: the elements come from the site labels.
    cif += "loop_\n_atom_site_label\n_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\n"
           "Li1 0 0 0\nCl1 0.5 0.5 0.5\n";
    return cif;
}

// LiCoO2 (R-3m, hexagonal axes) with 10 % Li vacancies, in the style of ICSD/COD exports: a
// publication block before the structure, text fields, uncertainties, charged type symbols,
// numbered operations written "2/3+x" style.
const char* kLiCoO2Cif = R"(#------------------------------------------------------------------------------
# LiCoO2 with 10 % Li vacancies
#------------------------------------------------------------------------------
data_global
_journal_name_full 'Journal of Imaginary Batteries'
_publ_section_title
;
 Lithium cobalt oxide; a layered cathode
 with "quotes" and 'apostrophes' inside a text field
;
data_LiCoO2
_chemical_name_systematic      'Lithium cobalt(III) oxide'
_chemical_formula_sum          'Co O2 Li0.9'
_cell_length_a                 2.8156(2)
_cell_length_b                 2.8156(2)
_cell_length_c                 14.0542(11)
_cell_angle_alpha              90.
_cell_angle_beta               90.
_cell_angle_gamma              120.
_cell_volume                   96.49(1)
_symmetry_space_group_name_H-M 'R -3 m H'
_symmetry_Int_Tables_number    166
loop_
_symmetry_equiv_pos_site_id
_symmetry_equiv_pos_as_xyz
1 'x, y, z'
2 '-y, x-y, z'
3 '-x+y, -x, z'
4 'y, x, -z'
5 'x-y, -y, -z'
6 '-x, -x+y, -z'
7 '2/3+x, 1/3+y, 1/3+z'
8 '2/3-y, 1/3+x-y, 1/3+z'
9 '2/3-x+y, 1/3-x, 1/3+z'
10 '2/3+y, 1/3+x, 1/3-z'
11 '2/3+x-y, 1/3-y, 1/3-z'
12 '2/3-x, 1/3-x+y, 1/3-z'
13 '1/3+x, 2/3+y, 2/3+z'
14 '1/3-y, 2/3+x-y, 2/3+z'
15 '1/3-x+y, 2/3-x, 2/3+z'
16 '1/3+y, 2/3+x, 2/3-z'
17 '1/3+x-y, 2/3-y, 2/3-z'
18 '1/3-x, 2/3-x+y, 2/3-z'
19 '-x, -y, -z'
20 'y, -x+y, -z'
21 'x-y, x, -z'
22 '-y, -x, z'
23 '-x+y, y, z'
24 'x, x-y, z'
25 '2/3-x, 1/3-y, 1/3-z'
26 '2/3+y, 1/3-x+y, 1/3-z'
27 '2/3+x-y, 1/3+x, 1/3-z'
28 '2/3-y, 1/3-x, 1/3+z'
29 '2/3-x+y, 1/3+y, 1/3+z'
30 '2/3+x, 1/3+x-y, 1/3+z'
31 '1/3-x, 2/3-y, 2/3-z'
32 '1/3+y, 2/3-x+y, 2/3-z'
33 '1/3+x-y, 2/3+x, 2/3-z'
34 '1/3-y, 2/3-x, 2/3+z'
35 '1/3-x+y, 2/3+y, 2/3+z'
36 '1/3+x, 2/3+x-y, 2/3+z'
loop_
_atom_type_symbol
_atom_type_oxidation_number
Li1+ 1
Co3+ 3
O2- -2
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_symmetry_multiplicity
_atom_site_Wyckoff_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
_atom_site_B_iso_or_equiv
Li1 Li1+ 3 a 0 0 0 0.9 1.2(3)
Co1 Co3+ 3 b 0 0 0.5 1. 0.35(2)
O1 O2- 6 c 0 0 0.26040(9) 1. 0.50(5)
#End of data_LiCoO2
)";

const char* kPoscar = R"(Li2S test
1.0
 5.71 0.0 0.0
 0.0 5.71 0.0
 0.0 0.0 5.71
Li S
2 2
Direct
0.25 0.25 0.25
0.75 0.75 0.25
0.0 0.0 0.0
0.5 0.5 0.0
)";

/// The error a read raises, as text; "(no error)" when it succeeds.
std::string read_error(const std::string& text, const std::string& format, const std::string& source = "bad") {
    try {
        read_structure_string(text, format, source);
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST_CASE("format registry picks formats from file names") {
    auto& reg = FormatRegistry::instance();
    CHECK(reg.for_path("POSCAR").name == "poscar");
    CHECK(reg.for_path("run/CONTCAR").name == "poscar");
    CHECK(reg.for_path("x.vasp").name == "poscar");
    CHECK(reg.for_path("LiCoO2.CIF").name == "cif");
    CHECK(reg.for_path("slab.xyz").name == "extxyz");
    CHECK(reg.for_path("slab.extxyz").name == "extxyz");
}

TEST_CASE("POSCAR round trip keeps lattice, positions and fixed atoms; atoms are grouped by species") {
    const Structure s = tagged_sample();
    const auto dir = testing::scratch("io_poscar");
    write_structure(dir / "POSCAR", s);
    const Structure r = read_structure(dir / "POSCAR");
    check_lattice(s, r);
    CHECK(r.title == s.title);
    // Groups in order of first appearance: Li (0, 2, 6), S (1, 4), P (3), O (5).
    const std::size_t order[] = {0, 2, 6, 1, 4, 3, 5};
    REQUIRE(r.size() == s.size());
    for (std::size_t i = 0; i < r.size(); ++i) {
        CAPTURE(i);
        CHECK(r[i].species == s[order[i]].species);
        CHECK((r[i].frac - s[order[i]].frac).cwiseAbs().maxCoeff() < 1e-8);
        CHECK(r[i].fixed == s[order[i]].fixed);
    }
    CHECK(interphase::testing::slurp(dir / "POSCAR").find("Selective dynamics") != std::string::npos);

    // An already grouped structure keeps its order exactly; no flags when nothing is fixed.
    Structure grouped = read_structure_string(kPoscar, "poscar", "inline");
    const std::string text = write_structure_string(grouped, "poscar");
    CHECK(text.find("Selective") == std::string::npos);
    check_atoms(read_structure_string(text, "poscar", "again"), grouped, true);
}

TEST_CASE("POSCAR variants: Cartesian, volume scale, VASP 4, POTCAR names, partial selective dynamics") {
    SUBCASE("Cartesian coordinates and a negative (volume) scale") {
        const Structure r = read_structure_string(
            "cart\n-125.0\n 2 0 0\n 0 2 0\n 0 0 2\nNa Cl\n1 1\nCartesian\n0 0 0\n1 1 1\n", "poscar", "c");
        CHECK(std::abs(r.volume() - 125.0) < 1e-9);
        CHECK((r[1].frac - Eigen::Vector3d(0.5, 0.5, 0.5)).norm() < 1e-12);
    }
    SUBCASE("VASP 4 file: species from the title line") {
        const Structure r = read_structure_string(
            "Li S\n5.71\n 1 0 0\n 0 1 0\n 0 0 1\n1 1\nDirect\n0 0 0\n0.5 0.5 0.5\n", "poscar", "v4");
        CHECK(r[0].species == "Li");
        CHECK(r[1].species == "S");
        CHECK(std::abs(r.lattice()(0, 0) - 5.71) < 1e-12);
    }
    SUBCASE("VASP 6 species with POTCAR names and hashes") {
        const Structure r = read_structure_string(
            "t\n1\n 4 0 0\n 0 4 0\n 0 0 4\nLi_sv/a1b2c3 S\n1 1\nd\n0 0 0\n0.5 0.5 0.5\n", "poscar", "v6");
        CHECK(r[0].species == "Li");
    }
    SUBCASE("per-direction flags survive a round trip through info") {
        const Structure r = read_structure_string(
            "t\n1\n 4 0 0\n 0 4 0\n 0 0 4\nLi\n2\nSelective dynamics\nDirect\n0 0 0 F F T\n0.5 0.5 0.5 F F F\n",
            "poscar", "sd");
        CHECK_FALSE(r[0].fixed);
        CHECK(r[1].fixed);
        REQUIRE(r.info.contains("selective_dynamics"));
        const std::string text = write_structure_string(r, "poscar");
        CHECK(text.find("F F T") != std::string::npos);
        const Structure again = read_structure_string(text, "poscar", "sd2");
        CHECK(again.info["selective_dynamics"] == r.info["selective_dynamics"]);
    }
}

TEST_CASE("CIF round trip keeps lattice, positions, tags and occupancies") {
    Structure s = tagged_sample();
    s.info = {{"occupancies", {1.0, 1.0, 0.5, 1.0, 1.0, 0.25, 1.0}}};
    const auto dir = testing::scratch("io_cif");
    write_structure(dir / "sample.cif", s);
    const std::string text = interphase::testing::slurp(dir / "sample.cif");
    CHECK(text.find("'P 1'") != std::string::npos);
    CHECK(text.find("'x, y, z'") != std::string::npos);
    const Structure r = read_structure(dir / "sample.cif");
    check_lattice(s, r);
    check_atoms(s, r, true);
    CHECK(r.info["occupancies"] == s.info["occupancies"]);
    // The data block name cannot hold blanks.
    CHECK(r.title == "Li2S/Li3PS4_test_slab");

    // Without partial occupancies, info stays empty.
    s.info = nlohmann::json::object();
    CHECK_FALSE(read_structure_string(write_structure_string(s, "cif"), "cif", "x").info.contains("occupancies"));
}

TEST_CASE("extended XYZ round trip keeps lattice, positions, pbc, tags and info") {
    Structure s = tagged_sample();
    s.set_pbc({true, true, false});
    const auto dir = testing::scratch("io_extxyz");
    write_structure(dir / "sample.xyz", s);
    const Structure r = read_structure(dir / "sample.xyz");
    check_lattice(s, r);
    check_atoms(s, r, true);
    CHECK(r.pbc() == s.pbc());
    CHECK(r.title == s.title);
    for (const auto& [key, value] : s.info.items()) {
        CAPTURE(key);
        REQUIRE(r.info.contains(key));
        CHECK(r.info[key] == value);
        CHECK(r.info[key].type() == value.type());
    }
    CHECK(r.info.size() == s.info.size());

    // Only the columns in use are written.
    Structure plain = read_structure_string(kPoscar, "poscar", "inline");
    const std::string text = write_structure_string(plain, "extxyz");
    CHECK(text.find("Properties=species:S:1:pos:R:3 ") != std::string::npos);
}

TEST_CASE("extended XYZ reading: ASE columns, comment-line syntax, molecules") {
    SUBCASE("move_mask, ignored columns and quoting") {
        const Structure r = read_structure_string(
            "3\nLattice=\"4 0 0 0 4 0 0 0 4\" Properties=species:S:1:pos:R:3:forces:R:3:move_mask:L:3:tags:I:1 "
            "energy=-1.5 name='two words' arr=[1,2,3] bare stress=\"1 2 3 4 5 6 7 8 9\" a= 1 pbc=\"T T T\"\n"
            "Li 0 0 0  0.1 0.2 0.3  F F F 1\n"
            "Li 1 1 1  0.1 0.2 0.3  T T T 2\n"
            "S  2 2 2  0.1 0.2 0.3  T T F 3\n",
            "extxyz", "ase");
        CHECK(r[0].fixed);
        CHECK_FALSE(r[1].fixed);
        CHECK_FALSE(r[2].fixed);
        CHECK(r.info["selective_dynamics"][2] == nlohmann::json({true, true, false}));
        CHECK(r.info["energy"].get<double>() == -1.5);
        CHECK(r.info["name"] == "two words");
        CHECK(r.info["arr"] == nlohmann::json({1, 2, 3}));
        CHECK(r.info["bare"] == true);
        CHECK(r.info["a"] == 1);
        CHECK(r.info["stress"] == nlohmann::json({{1, 4, 7}, {2, 5, 8}, {3, 6, 9}}));  // Fortran order, as ASE
        CHECK((r.cartesian(2) - Eigen::Vector3d(2, 2, 2)).norm() < 1e-12);
    }
    SUBCASE("plain XYZ molecule gets a non-periodic box, positions kept") {
        const Structure r = read_structure_string(
            "3\nwater molecule\nO 0.0 0.0 0.1173\nH 0.0 0.7572 -0.4692\nH 0.0 -0.7572 -0.4692\n", "extxyz", "h2o");
        CHECK(r.title == "water molecule");
        CHECK(r.info.empty());
        CHECK(r.pbc() == std::array<bool, 3>{false, false, false});
        CHECK((r.cartesian(1) - Eigen::Vector3d(0.0, 0.7572, -0.4692)).norm() < 1e-12);
    }
    SUBCASE("only the first frame is read") {
        const Structure r = read_structure_string(
            "1\nLattice=\"3 0 0 0 3 0 0 0 3\"\nLi 0 0 0\n2\nLattice=\"3 0 0 0 3 0 0 0 3\"\nLi 0 0 0\nLi 1 1 1\n",
            "extxyz", "traj");
        CHECK(r.size() == 1);
    }
}

TEST_CASE("CIF symmetry expansion") {
    SUBCASE("NaCl-type LiCl from 192 explicit Fm-3m operations") {
        const Structure r = read_structure_string(licl_cif(true), "cif", "LiCl.cif");
        REQUIRE(r.size() == 8);
        CHECK(r.composition() == std::map<std::string, int>{{"Cl", 4}, {"Li", 4}});
        CHECK(std::abs(r.min_interatomic_distance() - 5.1295 / 2) < 1e-9);
        for (const auto& a : r.atoms())
            for (int k = 0; k < 3; ++k) CHECK((a.frac[k] >= 0.0 && a.frac[k] < 1.0));
        CHECK(r.title == "LiCl");
        CHECK_FALSE(r.info.contains("occupancies"));
    }
    SUBCASE("the same from the space-group name alone (spglib database)") {
        const Structure r = read_structure_string(licl_cif(false), "cif", "LiCl.cif");
        CHECK(r.size() == 8);
    }
    SUBCASE("operation syntax: fractions, decimals, any term order") {
        const Structure r = read_structure_string(
            "data_x\n_cell_length_a 4\n_cell_length_b 4\n_cell_length_c 4\n"
            "loop_\n_space_group_symop_operation_xyz\n'x,y,z'\n'-x+1/2, y, z+0.25'\n\"1/2-x,+y,0.25+z\"\n"
            "loop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n"
            "_atom_site_fract_z\nS1 S2- 0.1 0.2 0.3\n",
            "cif", "ops");
        REQUIRE(r.size() == 2);  // the third operation repeats the second
        CHECK((r[1].frac - Eigen::Vector3d(0.4, 0.2, 0.55)).norm() < 1e-12);
    }
    SUBCASE("ICSD-style LiCoO2 with occupancy and 36 operations") {
        const Structure r = read_structure_string(kLiCoO2Cif, "cif", "LiCoO2.cif");
        CHECK(r.title == "LiCoO2");  // the first block only has publication data
        REQUIRE(r.size() == 12);
        CHECK(r.composition() == std::map<std::string, int>{{"Co", 3}, {"Li", 3}, {"O", 6}});
        REQUIRE(r.info.contains("occupancies"));
        for (std::size_t i = 0; i < r.size(); ++i) CHECK(r.info["occupancies"][i] == (r[i].species == "Li" ? 0.9 : 1.0));
        const auto p = r.parameters();
        CHECK(std::abs(p[5] - 120.0) < 1e-9);
        CHECK(std::abs(p[2] - 14.0542) < 1e-12);
    }
}

TEST_CASE("files written by ASE are read as ASE reads them") {
    if (!interphase::testing::have_ase()) {
        MESSAGE("python3 cannot import ase: skipping the comparison with ASE");
        return;
    }
    const auto dir = testing::scratch("io_ase_in");
    write_text(dir / "LiCoO2.cif", kLiCoO2Cif);
    const std::string script = std::string(kAseDump) + R"(
from ase.spacegroup import crystal
from ase.build import fcc111
from ase.calculators.singlepoint import SinglePointCalculator
li2s = crystal(['Li', 'S'], [(0.25, 0.25, 0.25), (0, 0, 0)], spacegroup=225,
               cellpar=[5.71, 5.71, 5.71, 90, 90, 90])
ase.io.write('li2s.cif', li2s)
slab = fcc111('Al', (2, 2, 3), vacuum=5.0)
slab.info.pop('adsorbate_info', None)
slab.set_constraint(FixAtoms(indices=[a.index for a in slab if a.tag == 3]))
slab.info.update({'miller': [1, 1, 1], 'termination': 'Al top', 'shift': 0.25, 'n_layers': 3})
slab.calc = SinglePointCalculator(slab, energy=-42.5, forces=np.full((len(slab), 3), 0.01))
ase.io.write('al.xyz', slab, columns=['symbols', 'positions', 'move_mask', 'tags'], write_results=True)
json.dump({'li2s': dump(ase.io.read('li2s.cif')), 'al': dump(ase.io.read('al.xyz')),
           'licoo2': dump(ase.io.read('LiCoO2.cif'))}, open('ase.json', 'w'))
)";
    REQUIRE(run_python(dir, script));
    const auto ase = nlohmann::json::parse(interphase::testing::slurp(dir / "ase.json"));

    SUBCASE("Li2S CIF (ASE writes the full P1 cell)") {
        const Structure r = read_structure(dir / "li2s.cif");
        CHECK(r.size() == 12);
        check_same_as_ase(r, ase["li2s"]);
    }
    SUBCASE("Al(111) slab extended XYZ with FixAtoms, tags and forces") {
        const Structure r = read_structure(dir / "al.xyz");
        check_same_as_ase(r, ase["al"]);
        CHECK(r.pbc() == std::array<bool, 3>{true, true, false});
        std::vector<int> fixed;
        for (std::size_t i = 0; i < r.size(); ++i)
            if (r[i].fixed) fixed.push_back(static_cast<int>(i));
        CHECK(nlohmann::json(fixed) == ase["al"]["fixed"]);
        CHECK(fixed.size() == 4);
        for (const char* key : {"miller", "termination", "shift", "n_layers"}) {
            CAPTURE(key);
            CHECK(r.info[key] == ase["al"]["info"][key]);
        }
        CHECK(r.info["energy"].get<double>() == -42.5);
    }
    SUBCASE("ICSD-style LiCoO2 with symmetry and occupancy") {
        const Structure r = read_structure(dir / "LiCoO2.cif");
        check_same_as_ase(r, ase["licoo2"]);
    }
}

TEST_CASE("files we write are read by ASE as we read them") {
    if (!interphase::testing::have_ase()) {
        MESSAGE("python3 cannot import ase: skipping the comparison with ASE");
        return;
    }
    const auto dir = testing::scratch("io_ase_out");
    Structure s = tagged_sample();
    s.set_pbc({true, true, false});
    write_structure(dir / "sample.cif", s);
    write_structure(dir / "sample.xyz", s);
    write_structure(dir / "POSCAR", s);
    const std::string script = std::string(kAseDump) + R"(
out = {'cif': dump(ase.io.read('sample.cif')), 'xyz': dump(ase.io.read('sample.xyz')),
       'poscar': dump(ase.io.read('POSCAR', format='vasp'))}
json.dump(out, open('ase.json', 'w'))
)";
    REQUIRE(run_python(dir, script));
    const auto ase = nlohmann::json::parse(interphase::testing::slurp(dir / "ase.json"));

    check_same_as_ase(read_structure(dir / "sample.cif"), ase["cif"]);
    const Structure xyz = read_structure(dir / "sample.xyz");
    check_same_as_ase(xyz, ase["xyz"]);
    CHECK(ase["xyz"]["pbc"] == nlohmann::json({true, true, false}));
    // Every info value comes back in ASE as the same JSON value.
    for (const auto& [key, value] : s.info.items()) {
        CAPTURE(key);
        REQUIRE(ase["xyz"]["info"].contains(key));
        CHECK(ase["xyz"]["info"][key] == value);
    }
    const Structure poscar = read_structure(dir / "POSCAR");
    check_same_as_ase(poscar, ase["poscar"]);
    std::vector<int> fixed;
    for (std::size_t i = 0; i < poscar.size(); ++i)
        if (poscar[i].fixed) fixed.push_back(static_cast<int>(i));
    CHECK(nlohmann::json(fixed) == ase["poscar"]["fixed"]);
}

TEST_CASE("bad POSCARs fail with the file name and line") {
    const auto dir = testing::scratch("io_bad");
    SUBCASE("fewer coordinate lines than the counts promise") {
        std::string text = kPoscar;
        text.erase(text.rfind("0.5 0.5 0.0"));  // 3 of 4 atoms, the file ends on line 11
        write_text(dir / "truncated.vasp", text);
        try {
            read_structure(dir / "truncated.vasp");
            FAIL("no error");
        } catch (const ParseError& e) {
            const std::string what = e.what();
            CHECK(what.find("truncated.vasp:12:") != std::string::npos);
            CHECK(what.find("atom 4 of 4") != std::string::npos);
            CHECK(e.line() == 12);
        }
    }
    SUBCASE("singular lattice") {
        write_text(dir / "POSCAR", "t\n1.0\n 3 0 0\n 3 0 0\n 0 0 3\nLi\n1\nDirect\n0 0 0\n");
        try {
            read_structure(dir / "POSCAR");
            FAIL("no error");
        } catch (const Error& e) {
            const std::string what = e.what();
            CHECK(what.find("singular") != std::string::npos);
            CHECK(what.find("POSCAR") != std::string::npos);
        }
    }
    SUBCASE("NaN and out-of-range numbers") {
        for (const char* bad : {"nan", "1e400", "inf", "0.5.5", "0,5"}) {
            CAPTURE(bad);
            std::string text = kPoscar;
            text.replace(text.find("0.75 0.75 0.25"), 4, bad);
            const std::string err = read_error(text, "poscar", "num.vasp");
            CHECK(err.find("num.vasp:10:") != std::string::npos);
            CHECK(err.find("not a finite number") != std::string::npos);
        }
    }
    SUBCASE("other mistakes name what is wrong") {
        CHECK(read_error("t\n1\n 3 0 0\n 0 3 0\n 0 0 3\nLi\n1\n0 0 0\n", "poscar").find("'Direct' or 'Cartesian'") != std::string::npos);
        CHECK(read_error("t\n1\n 3 0 0\n 0 3 0\n 0 0 3\nLi S\n1\nDirect\n0 0 0\n", "poscar").find("2 species but 1 atom counts") != std::string::npos);
        CHECK(read_error("t\n1\n 3 0 0\n 0 3 0\n 0 0 3\nXx\n1\nDirect\n0 0 0\n", "poscar").find("unknown element 'Xx'") != std::string::npos);
        CHECK(read_error("t\n1\n 3 0 0\n 0 3 0\n 0 0 3\nLi\n1\nSelective dynamics\nDirect\n0 0 0\n", "poscar").find("bad:10:") != std::string::npos);
        CHECK(read_error("no species here\n1\n 3 0 0\n 0 3 0\n 0 0 3\n1\nDirect\n0 0 0\n", "poscar").find("VASP 4") != std::string::npos);
    }
}

TEST_CASE("bad CIF and extended XYZ files fail with typed errors") {
    const std::string good = licl_cif(true);
    SUBCASE("negative and excessive occupancy") {
        std::string cif = "data_x\n_cell_length_a 4\n_cell_length_b 4\n_cell_length_c 4\nloop_\n_atom_site_label\n"
                          "_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\n_atom_site_occupancy\n"
                          "Li1 0 0 0 OCC\n";
        for (const char* occ : {"-0.2", "1.5"}) {
            std::string c = cif;
            c.replace(c.find("OCC"), 3, occ);
            const std::string err = read_error(c, "cif", "occ.cif");
            CAPTURE(err);
            CHECK(err.find("occ.cif:11:") != std::string::npos);
            CHECK(err.find("occupancy") != std::string::npos);
            CHECK_THROWS_AS(read_structure_string(c, "cif", "occ.cif"), ParseError);
        }
    }
    SUBCASE("syntax errors") {
        CHECK(read_error("data_x\n_cell_length_a '4\n", "cif").find("bad:2: unterminated") != std::string::npos);
        CHECK(read_error("data_x\n_title\n;\nnever closed\n", "cif").find("bad:3:") != std::string::npos);
        CHECK(read_error("data_x\nloop_\n_a\n_b\n1 2 3\n", "cif").find("bad:2: loop_ with 2 tags") != std::string::npos);
        CHECK(read_error("_cell_length_a 4\n", "cif").find("'data_' block") != std::string::npos);
        CHECK(read_error("data_x\n_cell_length_a 4\n", "cif").find("no data block lists atoms") != std::string::npos);
        std::string no_cell = good;
        no_cell.erase(no_cell.find("_cell_length_b"), 25);
        CHECK(read_error(no_cell, "cif").find("_cell_length_b") != std::string::npos);
        std::string bad_op = good;
        bad_op.replace(bad_op.find("'-x, y, z'"), 10, "'-x, q, z'");
        CHECK(read_error(bad_op, "cif").find("symmetry operation '-x, q, z'") != std::string::npos);
        std::string nan = good;
        nan.replace(nan.find("Cl1 0.5"), 7, "Cl1 nan");
        CHECK(read_error(nan, "cif").find("not a finite number") != std::string::npos);
        // Two different elements fully occupying one position.
        std::string clash = good;
        clash.replace(clash.find("Cl1 0.5 0.5 0.5"), 15, "Cl1 0.5 0.5 0.0");
        CHECK(read_error(clash, "cif").find("same position") != std::string::npos);
        CHECK(read_error("data_x\n_cell_length_a 4\n_cell_length_b 4\n_cell_length_c 4\n"
                         "_symmetry_space_group_name_H-M 'P 1 21/n 1'\n_symmetry_Int_Tables_number 14\n"
                         "loop_\n_atom_site_label\n_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\n"
                         "Li1 0 0 0\n", "cif").find("cannot tell which setting") != std::string::npos);
    }
    SUBCASE("extended XYZ") {
        const std::string head = "2\nLattice=\"4 0 0 0 4 0 0 0 4\" Properties=species:S:1:pos:R:3\n";
        CHECK(read_error(head + "Li 0 0 0\n", "extxyz").find("bad:4: unexpected end of file") != std::string::npos);
        CHECK(read_error(head + "Li 0 0 0\nLi 1 1\n", "extxyz").find("bad:4: atom 2 has 3 columns") != std::string::npos);
        CHECK(read_error(head + "Li 0 0 0\nLi 1 1 1e400\n", "extxyz").find("not a finite number") != std::string::npos);
        CHECK(read_error(head + "Li 0 0 0\nQq 1 1 1\n", "extxyz").find("unknown element 'Qq'") != std::string::npos);
        CHECK(read_error("1\nLattice=\"4 0 0 4 0 0 0 0 4\"\nLi 0 0 0\n", "extxyz").find("singular") != std::string::npos);
        CHECK(read_error("1\nLattice=\"4 0 0\"\nLi 0 0 0\n", "extxyz").find("Lattice needs 9 numbers") != std::string::npos);
        CHECK(read_error("1\nLattice=\"4 0 0 0 4 0 0 0 4\" Properties=species:S:1:pos:Q:3\nLi 0 0 0\n", "extxyz")
                  .find("type 'Q'") != std::string::npos);
        CHECK(read_error("1\nname=\"open\nLi 0 0 0\n", "extxyz").find("unterminated") != std::string::npos);
        CHECK(read_error("-3\n\n", "extxyz").find("bad:1:") != std::string::npos);
    }
}

TEST_CASE("garbage and truncated files throw interphase errors, never crash") {
    const std::vector<std::string> garbage = {
        "", "\n\n\n", std::string("\0\0\x01\xff\xfe binary", 13), "hello world\n", "data_\n",
        "99999999999999999999\n", "1\n\n", "loop_\n", "# only a comment\n", "t\n1\n1 2 3\n",
    };
    const std::vector<std::pair<std::string, std::string>> valid = {
        {"poscar", kPoscar},
        {"cif", licl_cif(true).substr(0, 3000)},
        {"cif", kLiCoO2Cif},
        {"extxyz", write_structure_string(tagged_sample(), "extxyz")},
        {"poscar", write_structure_string(tagged_sample(), "poscar")},
        {"cif", write_structure_string(tagged_sample(), "cif")},
    };
    auto must_not_crash = [](const std::string& text, const std::string& format) {
        try {
            read_structure_string(text, format, "fuzz");
        } catch (const Error&) {
            // expected for most inputs
        } catch (const std::exception& e) {
            FAIL_CHECK(format << ": non-Interphase exception " << e.what() << " for input:\n" << text);
        }
    };
    for (const auto& f : {"poscar", "cif", "extxyz"}) {
        for (const auto& g : garbage) CHECK_THROWS_AS(read_structure_string(g, f, "garbage"), Error);
    }
    // Every prefix of valid files, and every valid file with one character replaced by noise.
    for (const auto& [format, text] : valid) {
        for (std::size_t n = 0; n < text.size(); n += 1 + text.size() / 400) must_not_crash(text.substr(0, n), format);
        unsigned seed = 12345;
        for (int k = 0; k < 300; ++k) {
            seed = seed * 1103515245u + 12345u;
            std::string t = text;
            t[(seed >> 8) % t.size()] = "x'\";_#\n 9-.e/\0"[(seed >> 20) % 14];
            must_not_crash(t, format);
        }
    }
}
