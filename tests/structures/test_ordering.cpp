// Ewald sums and ordered models of disordered structures: the Ewald energy reproduces the
// Madelung constants of NaCl and CsCl and pymatgen's EwaldSummation (Debian python3-pymatgen,
// run from the test); the ordering picks the lowest Ewald energy among all arrangements
// (checked against a brute-force loop over every arrangement), gives the same structure twice
// and whatever the order of the atoms in the input file, builds the supercells non-integral
// occupancies need, and rejects bad occupancies with errors naming the field.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>

#include "common/errors.hpp"
#include "structures/elements.hpp"
#include "structures/ewald.hpp"
#include "structures/io.hpp"
#include "structures/ordering.hpp"
#include "structures/prototypes.hpp"
#include "structures/symmetry.hpp"
#include "test_paths.hpp"

using namespace interphase;
using namespace interphase::structures;
namespace fs = std::filesystem;

namespace {

Structure rock_salt(double a) {
    Structure s(a * Eigen::Matrix3d::Identity());
    const double f[4][3] = {{0, 0, 0}, {0, 0.5, 0.5}, {0.5, 0, 0.5}, {0.5, 0.5, 0}};
    for (const auto& p : f) s.add_atom("Na", Eigen::Vector3d(p[0], p[1], p[2]));
    for (const auto& p : f) s.add_atom("Cl", Eigen::Vector3d(p[0] + 0.5, p[1], p[2]));
    s.wrap();
    return s;
}

std::pair<int, std::string> run_python(const std::string& script, const fs::path& dir) {
    const fs::path file = dir / "script.py";
    std::ofstream(file) << script;
    const std::string cmd = "/usr/bin/python3 '" + file.string() + "' 2>&1";
    FILE* pipe = ::popen(cmd.c_str(), "r");
    REQUIRE(pipe != nullptr);
    std::string out;
    char buf[512];
    while (std::fgets(buf, sizeof buf, pipe)) out += buf;
    return {::pclose(pipe), out};
}

// Sorted (species, rounded fractional coordinates) of every atom: equal for the same crystal
// whatever the atom order.
std::vector<std::string> atom_set(const Structure& s) {
    std::vector<std::string> out;
    for (const auto& a : s.atoms()) {
        Eigen::Vector3d f = a.frac;
        for (int k = 0; k < 3; ++k) {
            f[k] -= std::floor(f[k]);
            if (f[k] > 1 - 5e-5) f[k] = 0;
        }
        char buf[96];
        std::snprintf(buf, sizeof buf, "%s %.4f %.4f %.4f", a.species.c_str(), f[0], f[1], f[2]);
        out.emplace_back(buf);
    }
    std::sort(out.begin(), out.end());
    return out;
}

// Li2S antifluorite with S/Cl half and half on 4a and Li 6 of 8 on 8c: 6 x 28 = 168
// arrangements, few enough for a brute-force check.
const char* kMixedLi2S = R"(name: Mixed
formula: Li3SCl
space_group: 225
lattice: {a: 5.5, b: 5.5, c: 5.5, alpha: 90, beta: 90, gamma: 90}
sites:
  - {species: S, wyckoff: 4a, position: [0, 0, 0], occupancy: 0.5}
  - {species: Cl, wyckoff: 4a, position: [0, 0, 0], occupancy: 0.5}
  - {species: Li, wyckoff: 8c, position: [1/4, 1/4, 1/4], occupancy: 0.75}
citation: "test structure"
)";

}  // namespace

TEST_CASE("Ewald energy of rock salt and CsCl gives their Madelung constants") {
    // E per ion pair = -M e^2/(4 pi eps0 r0), r0 the nearest-neighbour distance.
    const double a = 5.64;
    const Structure nacl = rock_salt(a);
    std::vector<double> q(8, 1.0);
    std::fill(q.begin() + 4, q.end(), -1.0);
    const EwaldEnergy e = ewald_energy(nacl, q);
    const double madelung_nacl = 1.747564594633;
    CHECK(e.total() / 4 == doctest::Approx(-madelung_nacl * kCoulombEvAngstrom / (a / 2)).epsilon(1e-9));
    CHECK(e.charged == 0.0);

    Structure cscl(4.12 * Eigen::Matrix3d::Identity());
    cscl.add_atom("Cs", Eigen::Vector3d(0, 0, 0));
    cscl.add_atom("Cl", Eigen::Vector3d(0.5, 0.5, 0.5));
    const double madelung_cscl = 1.762674773070;
    CHECK(ewald_energy(cscl, {1, -1}).total() ==
          doctest::Approx(-madelung_cscl * kCoulombEvAngstrom / (4.12 * std::sqrt(3.0) / 2)).epsilon(1e-9));

    // The split between the sums is arbitrary: another eta, the same total.
    EwaldParameters other;
    other.eta = 0.9;
    const EwaldEnergy e2 = ewald_energy(nacl, q, other);
    CHECK(e2.real != doctest::Approx(e.real));
    CHECK(e2.total() == doctest::Approx(e.total()).epsilon(1e-10));
    // A wrong charge list is an input error, not a crash.
    CHECK_THROWS_AS(ewald_energy(nacl, {1, -1}), InputError);
    CHECK_THROWS_AS(ewald_energy(nacl, {1, -1, 1, -1, 1, -1, 1, NAN}), InputError);
}

TEST_CASE("Ewald matrix reproduces the energy of any charge assignment, charged cells included") {
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> u(0, 1);
    Structure s(lattice_from_parameters(6.1, 7.3, 5.2, 81, 97, 104));
    for (int i = 0; i < 9; ++i) s.add_atom("Li", Eigen::Vector3d(u(rng), u(rng), u(rng)));
    std::vector<double> q{1, 2, -1, -2, 1, 3, -1, 0.5, -2};  // net charge +1.5
    std::vector<Eigen::Vector3d> frac;
    for (const auto& at : s.atoms()) frac.push_back(at.frac);
    const Eigen::MatrixXd phi = ewald_matrix(s.lattice(), frac, s.size());
    CHECK((phi - phi.transpose()).cwiseAbs().maxCoeff() < 1e-9);
    Eigen::VectorXd qv = Eigen::Map<Eigen::VectorXd>(q.data(), static_cast<Eigen::Index>(q.size()));
    const EwaldEnergy e = ewald_energy(s, q);
    CHECK(e.charged < 0);
    CHECK(0.5 * qv.dot(phi * qv) == doctest::Approx(e.total()).epsilon(1e-10));
}

TEST_CASE("Ewald energy agrees with pymatgen's EwaldSummation to 1e-4 eV") {
    const fs::path dir = interphase::testing::scratch("ewald-pymatgen");
    std::vector<std::pair<std::string, Structure>> cases;
    std::vector<std::vector<double>> charges;
    cases.emplace_back("NaCl", rock_salt(5.64));
    charges.push_back({1, 1, 1, 1, -1, -1, -1, -1});
    const Structure li2s = build_bulk("Li2S");
    cases.emplace_back("Li2S", li2s);
    charges.push_back(formal_charge_list(li2s));
    const Structure lpsc = build_bulk("Li6PS5Cl");
    cases.emplace_back("Li6PS5Cl", lpsc);
    charges.push_back(formal_charge_list(lpsc));
    {  // triclinic, charged (+1): the background term matters
        std::mt19937_64 rng(11);
        std::uniform_real_distribution<double> u(0, 1);
        Structure t(lattice_from_parameters(5.3, 6.2, 7.1, 78, 95, 110));
        std::vector<double> q{2, -1, -1, 1, 1, -1};
        for (std::size_t i = 0; i < q.size(); ++i) t.add_atom("Li", Eigen::Vector3d(u(rng), u(rng), u(rng)));
        cases.emplace_back("triclinic_charged", t);
        charges.push_back(q);
    }
    std::ostringstream py;
    py.precision(17);
    py << "import sys\ntry:\n    from pymatgen.core import Structure, Lattice\n"
          "    from pymatgen.analysis.ewald import EwaldSummation\nexcept Exception as e:\n"
          "    print('NOPYMATGEN', e); sys.exit(0)\n";
    for (std::size_t c = 0; c < cases.size(); ++c) {
        const Structure& s = cases[c].second;
        py << "L = [";
        for (int r = 0; r < 3; ++r) py << "[" << s.lattice()(r, 0) << "," << s.lattice()(r, 1) << "," << s.lattice()(r, 2) << "],";
        py << "]\nX = [";
        for (const auto& a : s.atoms()) py << "[" << a.frac[0] << "," << a.frac[1] << "," << a.frac[2] << "],";
        py << "]\nQ = [";
        for (double q : charges[c]) py << q << ",";
        py << "]\ns = Structure(Lattice(L), ['H'] * len(X), X)\ns.add_oxidation_state_by_site(Q)\n"
              "e = EwaldSummation(s)\nprint('"
           << cases[c].first << "', repr(e.total_energy), repr(e.real_space_energy), repr(e.reciprocal_space_energy), "
                                "repr(e.point_energy))\n";
    }
    const auto [rc, out] = run_python(py.str(), dir);
    if (rc != 0 || out.find("NOPYMATGEN") != std::string::npos) {
        MESSAGE("python3-pymatgen not available, comparison skipped: " << out);
        return;
    }
    std::istringstream lines(out);
    std::string name;
    double total = 0, real = 0, recip = 0, point = 0;
    std::size_t compared = 0;
    while (lines >> name >> total >> real >> recip >> point) {
        CAPTURE(name);
        const auto it = std::find_if(cases.begin(), cases.end(), [&](const auto& c) { return c.first == name; });
        REQUIRE(it != cases.end());
        const EwaldEnergy e = ewald_energy(it->second, charges[static_cast<std::size_t>(it - cases.begin())]);
        CHECK(std::abs(e.total() - total) < 1e-4);
        // Same default eta, so the parts agree as well.
        CHECK(std::abs(e.real - real) < 1e-4);
        CHECK(std::abs(e.reciprocal - recip) < 1e-4);
        CHECK(std::abs(e.self - point) < 1e-4);
        ++compared;
    }
    CHECK_MESSAGE(compared == cases.size(), out);
    fs::remove_all(dir);
}

TEST_CASE("ordering picks the lowest Ewald energy of all arrangements (brute force)") {
    const Prototype p = parse_prototype(kMixedLi2S, "mixed.yaml");
    const Structure s = build_bulk(p);
    const auto& rec = s.info.at("ordering");
    CHECK(rec.at("method") == "exhaustive enumeration");
    CHECK(rec.at("arrangements").get<double>() == doctest::Approx(6.0 * 28.0));
    CHECK(s.composition().at("Li") == 6);
    CHECK(s.composition().at("S") == 2);
    CHECK(s.composition().at("Cl") == 2);
    // Every arrangement built as its own structure and summed from scratch.
    const Eigen::Matrix3d L = lattice_from_parameters(5.5, 5.5, 5.5, 90, 90, 90);
    const double anion[4][3] = {{0, 0, 0}, {0, 0.5, 0.5}, {0.5, 0, 0.5}, {0.5, 0.5, 0}};
    std::vector<Eigen::Vector3d> li;
    for (double x : {0.25, 0.75})
        for (double y : {0.25, 0.75})
            for (double z : {0.25, 0.75}) li.emplace_back(x, y, z);
    double lowest = INFINITY;
    int arrangements = 0;
    std::vector<int> cl_mask{0, 0, 1, 1};
    do {
        std::vector<int> li_mask{0, 0, 1, 1, 1, 1, 1, 1};
        do {
            Structure t(L);
            for (int i = 0; i < 4; ++i)
                t.add_atom(cl_mask[static_cast<std::size_t>(i)] ? "Cl" : "S", Eigen::Vector3d(anion[i][0], anion[i][1], anion[i][2]));
            for (std::size_t i = 0; i < 8; ++i)
                if (li_mask[i]) t.add_atom("Li", li[i]);
            lowest = std::min(lowest, ewald_energy(t, formal_charge_list(t)).total());
            ++arrangements;
        } while (std::next_permutation(li_mask.begin(), li_mask.end()));
    } while (std::next_permutation(cl_mask.begin(), cl_mask.end()));
    CHECK(arrangements == 168);
    CHECK(rec.at("ewald_energy_eV").get<double>() == doctest::Approx(lowest).epsilon(1e-9));
    CHECK(ewald_energy(s, formal_charge_list(s)).total() == doctest::Approx(lowest).epsilon(1e-9));
    // Symmetry merges arrangements: far fewer candidates than arrangements, at least two
    // (S-S nearest neighbours or not).
    const auto candidates = rec.at("candidates").get<std::size_t>();
    CHECK(candidates >= 2);
    CHECK(candidates < 168 / 4);
    CHECK(rec.at("site_permutations").get<std::size_t>() == 192);  // Fm-3m, conventional cell: all distinct
}

TEST_CASE("ordering is deterministic and independent of the input atom order") {
    const Structure a = build_bulk("Li6PS5Cl");
    const Structure b = build_bulk("Li6PS5Cl");
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        CHECK(a[i].species == b[i].species);
        CHECK((a[i].frac - b[i].frac).norm() == 0.0);
    }
    CHECK(a.info.at("ordering").at("method").get<std::string>().rfind("search", 0) == 0);

    // The same disordered crystal from a CIF, atoms listed in file order and shuffled.
    const fs::path dir = interphase::testing::scratch("ordering-order");
    const Prototype& p = prototype("Li6PS5Cl");
    Structure disordered(lattice_from_parameters(p.a, p.b, p.c, p.alpha, p.beta, p.gamma));
    nlohmann::json occ = nlohmann::json::array();
    for (const auto& site : p.sites) {
        const Prototype one = [&] {
            Prototype q = p;
            q.sites = {site};
            return q;
        }();
        // Expand each site with the space group: the ordered part of build_bulk does this.
        for (const auto& [r, t] : space_group_operations(p.hall_number)) {
            Eigen::Vector3d x = r.cast<double>() * site.position + t;
            for (int k = 0; k < 3; ++k) x[k] -= std::floor(x[k]);
            bool dup = false;
            for (const auto& at : disordered.atoms())
                if (at.species == site.species && ((at.frac - x).array() - (at.frac - x).array().round()).abs().maxCoeff() < 1e-4)
                    dup = true;
            if (dup) continue;
            disordered.add_atom(site.species, x);
            occ.push_back(site.occupancy);
        }
    }
    REQUIRE(disordered.size() == 76);  // 4 P + 16 S + 4 S + 4 Cl + 48 Li sites
    disordered.info["occupancies"] = occ;
    write_structure(dir / "ordered_input.cif", disordered);

    std::vector<std::size_t> perm(disordered.size());
    std::iota(perm.begin(), perm.end(), 0);
    std::mt19937_64 rng(3);
    std::shuffle(perm.begin(), perm.end(), rng);
    Structure shuffled(disordered.lattice());
    nlohmann::json occ2 = nlohmann::json::array();
    for (std::size_t i : perm) {
        shuffled.add_atom(disordered[i].species, disordered[i].frac);
        occ2.push_back(occ[i]);
    }
    shuffled.info["occupancies"] = occ2;
    write_structure(dir / "shuffled_input.cif", shuffled);

    const Structure from_file = load_phase(dir / "ordered_input.cif");
    const Structure from_shuffled = load_phase(dir / "shuffled_input.cif");
    CHECK(from_file.size() == 52);
    CHECK(atom_set(from_file) == atom_set(from_shuffled));
    // ...and the same crystal as the prototype path.
    CHECK(atom_set(from_file) == atom_set(a));
    CHECK(from_file.info.at("ordering").at("ewald_energy_eV").get<double>() ==
          doctest::Approx(a.info.at("ordering").at("ewald_energy_eV").get<double>()).epsilon(1e-9));
    CHECK(from_file.info.at("phase_file") == (dir / "ordered_input.cif").string());
    fs::remove_all(dir);
}

TEST_CASE("the chosen Li6PS5Cl ordering is a local minimum: no exchange of two Li sites lowers the energy") {
    const Structure s = build_bulk("Li6PS5Cl");
    const double e0 = ewald_energy(s, formal_charge_list(s)).total();
    CHECK(e0 == doctest::Approx(s.info.at("ordering").at("ewald_energy_eV").get<double>()).epsilon(1e-9));
    // Empty 48h sites: the parent's orbit minus the occupied ones.
    const Prototype& p = prototype("Li6PS5Cl");
    std::vector<Eigen::Vector3d> all48;
    for (const auto& [r, t] : space_group_operations(p.hall_number)) {
        Eigen::Vector3d x = r.cast<double>() * p.sites.back().position + t;
        for (int k = 0; k < 3; ++k) x[k] -= std::floor(x[k]);
        if (std::none_of(all48.begin(), all48.end(), [&](const Eigen::Vector3d& y) {
                return ((x - y).array() - (x - y).array().round()).abs().maxCoeff() < 1e-4;
            }))
            all48.push_back(x);
    }
    REQUIRE(all48.size() == 48);
    std::vector<Eigen::Vector3d> empty;
    for (const auto& x : all48)
        if (std::none_of(s.atoms().begin(), s.atoms().end(), [&](const Atom& a) {
                return a.species == "Li" && ((a.frac - x).array() - (a.frac - x).array().round()).abs().maxCoeff() < 1e-4;
            }))
            empty.push_back(x);
    REQUIRE(empty.size() == 24);
    // A sample of single moves (every 5th Li to every 4th empty site) recomputed from scratch.
    int tried = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i].species != "Li" || i % 5) continue;
        for (std::size_t j = 0; j < empty.size(); j += 4) {
            Structure t = s;
            t[i].frac = empty[j];
            CHECK(ewald_energy(t, formal_charge_list(t)).total() >= e0 - 1e-6);
            ++tried;
        }
    }
    CHECK(tried > 20);
}

TEST_CASE("occupancies that need a supercell: the error names it, auto and explicit supercells build it") {
    const Prototype p16 = argyrodite_prototype(1.6);
    try {
        build_bulk(p16);
        FAIL("expected InputError");
    } catch (const InputError& e) {
        CHECK(e.field() == "occupancies");
        CHECK(std::string(e.what()).find("5 times larger") != std::string::npos);
    }
    OrderingOptions autos;
    autos.auto_supercell = true;
    const Structure s = build_bulk(p16, autos);
    // 5 formula units of Li5.4PS4.4Cl1.6: Li27 P5 S22 Cl8, exactly.
    const auto c = s.composition();
    CHECK(c.at("Li") == 27);
    CHECK(c.at("P") == 5);
    CHECK(c.at("S") == 22);
    CHECK(c.at("Cl") == 8);
    CHECK(s.size() == 62);
    CHECK(s.volume() == doctest::Approx(5 * std::pow(9.859, 3) / 4).epsilon(1e-6));
    CHECK(s.info.at("ordering").at("cell").get<std::string>().find("5 primitive") != std::string::npos);

    // x = 1.5 in the conventional cell as given; auto finds the 2-formula-unit cell.
    const Structure conv = build_bulk(argyrodite_prototype(1.5));
    CHECK(conv.size() == 50);
    const Structure small = build_bulk(argyrodite_prototype(1.5), autos);
    CHECK(small.size() == 25);
    CHECK(small.composition().at("Li") == 11);
    CHECK(small.composition().at("Cl") == 3);

    // A user supercell of the conventional cell: 1 x 1 x 5.
    OrderingOptions user;
    user.supercell = Eigen::Vector3i(1, 1, 5).asDiagonal();
    const DisorderedStructure d = [&] {
        DisorderedStructure x;
        x.lattice = 4.0 * Eigen::Matrix3d::Identity();
        x.sites.push_back({Eigen::Vector3d(0, 0, 0), {{"Na", 0.4}, {"K", 0.6}}, "1a"});
        x.sites.push_back({Eigen::Vector3d(0.5, 0.5, 0.5), {{"Cl", 1.0}}, "1b"});
        return x;
    }();
    CHECK(cells_for_whole_counts(d, "test") == 5);
    const Structure sup = order_structure(d, user, "test");
    CHECK(sup.composition().at("Na") == 2);
    CHECK(sup.composition().at("K") == 3);
    CHECK(sup.composition().at("Cl") == 5);
    CHECK(sup.lattice()(2, 2) == doctest::Approx(20.0));
}

TEST_CASE("CIF with partial occupancies: read, kept, ordered; bad occupancies are input errors") {
    const fs::path dir = interphase::testing::scratch("ordering-cif");
    // Rock salt with Cl/Br sharing the anion site, given by space group name only.
    const std::string cif = R"(data_mixed
_symmetry_space_group_name_H-M 'F m -3 m'
_symmetry_Int_Tables_number 225
_cell_length_a 5.4
_cell_length_b 5.4
_cell_length_c 5.4
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
Na1 Na 0 0 0 1
Cl1 Cl 0.5 0.5 0.5 0.75
Br1 Br 0.5 0.5 0.5 0.25
)";
    std::ofstream(dir / "mixed.cif") << cif;
    const Structure raw = read_structure(dir / "mixed.cif");
    REQUIRE(raw.info.contains("occupancies"));
    CHECK(raw.size() == 12);  // 4 Na + 4 Cl + 4 Br candidates on 4 anion positions
    const DisorderedStructure d = disordered_from_structure(raw, "mixed.cif");
    CHECK(d.sites.size() == 8);
    CHECK(analyze_disordered_symmetry(d).number == 225);  // the parent group
    const Structure s = load_phase(dir / "mixed.cif");
    CHECK(s.composition().at("Na") == 4);
    CHECK(s.composition().at("Cl") == 3);
    CHECK(s.composition().at("Br") == 1);
    CHECK(s.info.at("ordering").at("candidates") == 1);  // one Br in 4: all equivalent

    // Occupancies adding up to more than 1 on one position.
    std::string over = cif;
    over.replace(over.find("Br1 Br 0.5 0.5 0.5 0.25"), 23, "Br1 Br 0.5 0.5 0.5 0.50");
    std::ofstream(dir / "over.cif") << over;
    try {
        load_phase(dir / "over.cif");
        FAIL("expected InputError");
    } catch (const InputError& e) {
        CHECK(e.field() == "occupancies");
        CHECK(std::string(e.what()).find("add up to 1.25") != std::string::npos);
    }
    // A negative occupancy is the CIF reader's ParseError with the line.
    std::string negative = cif;
    negative.replace(negative.find("Br1 Br 0.5 0.5 0.5 0.25"), 23, "Br1 Br 0.5 0.5 0.5 -0.2");
    std::ofstream(dir / "negative.cif") << negative;
    CHECK_THROWS_AS(load_phase(dir / "negative.cif"), ParseError);
    // A POSCAR is ordered already.
    write_structure(dir / "POSCAR", build_bulk("LiCl"));
    const Structure poscar = load_phase(dir / "POSCAR");
    CHECK(poscar.size() == 8);
    CHECK(poscar.info.at("ordering").at("method") == "none");
    // Occupancies in info that do not fit the atoms.
    Structure bad = build_bulk("LiCl");
    bad.info["occupancies"] = {0.5, 0.5};
    CHECK_THROWS_AS(disordered_from_structure(bad, "bad"), InputError);
    bad.info["occupancies"] = std::vector<double>(8, 1.5);
    CHECK_THROWS_AS(disordered_from_structure(bad, "bad"), InputError);
    fs::remove_all(dir);
}
