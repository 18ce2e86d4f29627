// Builtin potentials (LJ, Morse, EMT): forces are minus the gradient of the energy and the
// stress its strain derivative (central finite differences), on periodic bulk, slabs (pbc
// T,T,F) and clusters (F,F,F); energies, forces and stresses equal those of ASE 3.22's own
// calculators (Debian python3-ase, run from the test on the very same structures); the
// neighbour list finds the fcc coordination shells; the registries and the calculator hook.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "common/errors.hpp"
#include "plugins/builtin/emt.hpp"
#include "plugins/builtin/lennard_jones.hpp"
#include "plugins/builtin/morse.hpp"
#include "plugins/builtin/neighbors.hpp"
#include "plugins/builtin/registry.hpp"
#include "plugins/calculator.hpp"
#include "test_paths.hpp"

using namespace interphase;
using namespace interphase::plugins;
using namespace interphase::plugins::builtin;
using structures::Atom;
using structures::Structure;
namespace fs = std::filesystem;

namespace {

const char* kPython = "/usr/bin/python3";

// ---------------------------------------------------------------------------------------------
// Structures

/// fcc crystal: the conventional 4-atom cell repeated n x n x n, species cycling through `species`.
Structure fcc(double a, int n, const std::vector<std::string>& species) {
    Structure s(Eigen::Matrix3d::Identity() * a * n);
    const Eigen::Vector3d basis[4] = {{0, 0, 0}, {0.5, 0.5, 0}, {0.5, 0, 0.5}, {0, 0.5, 0.5}};
    std::size_t k = 0;
    for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j)
            for (int l = 0; l < n; ++l)
                for (const auto& b : basis)
                    s.add_atom(species[k++ % species.size()], (b + Eigen::Vector3d(i, j, l)) / n);
    return s;
}

/// Displaces every atom by a Gaussian of `sigma` Å per component (a fixed seed: reproducible).
void rattle(Structure& s, double sigma, unsigned seed, bool skip_fixed = false) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> g(0.0, sigma);
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (skip_fixed && s[i].fixed) continue;
        const Eigen::Vector3d d(g(rng), g(rng), g(rng));
        s[i].frac = s.to_fractional(s.cartesian(i) + d);
    }
}

/// fcc(100) slab: `layers` planes a/2 apart, an in-plane n x n square cell of side a/√2,
/// `vacuum` Å above, pbc (T,T,F); the bottom `fixed` planes are fixed.
Structure fcc100_slab(const std::string& el, double a, int n, int layers, double vacuum, int fixed = 0) {
    const double side = a / std::sqrt(2.0) * n;
    const double dz = a / 2;
    Eigen::Matrix3d L = Eigen::Matrix3d::Zero();
    L(0, 0) = side;
    L(1, 1) = side;
    L(2, 2) = dz * (layers - 1) + vacuum;
    Structure s(L, {true, true, false});
    for (int z = 0; z < layers; ++z)
        for (int i = 0; i < n; ++i)
            for (int j = 0; j < n; ++j) {
                const double shift = (z % 2) ? 0.5 : 0.0;
                Atom& at = s.add_atom_cartesian(el, Eigen::Vector3d((i + shift) * side / n, (j + shift) * side / n,
                                                                    2.0 + z * dz));
                at.layer = z;
                at.fixed = z < fixed;
            }
    return s;
}

/// Al(100) 2x2, 4 planes, Au in the hollow site 1.9 Å above the top plane.
Structure al100_au_adatom() {
    Structure s = fcc100_slab("Al", 4.05, 2, 4, 12.0);
    const double side = s.lattice()(0, 0);
    const double top = 2.0 + 3 * 4.05 / 2;
    s.add_atom_cartesian("Au", Eigen::Vector3d(side / 4, side / 4, top + 1.9)).label = "adsorbate";
    return s;
}

/// A compact cluster in a box, pbc (F,F,F): fcc sites within `radius` of the origin.
Structure cluster(double a, double radius, const std::vector<std::string>& species, double box = 20.0) {
    Structure s(Eigen::Matrix3d::Identity() * box, {false, false, false});
    std::size_t k = 0;
    const int m = static_cast<int>(std::ceil(radius / a)) + 1;
    const Eigen::Vector3d basis[4] = {{0, 0, 0}, {0.5, 0.5, 0}, {0.5, 0, 0.5}, {0, 0.5, 0.5}};
    for (int i = -m; i <= m; ++i)
        for (int j = -m; j <= m; ++j)
            for (int l = -m; l <= m; ++l)
                for (const auto& b : basis) {
                    const Eigen::Vector3d x = (b + Eigen::Vector3d(i, j, l)) * a;
                    if (x.norm() <= radius) s.add_atom_cartesian(species[k++ % species.size()], x + Eigen::Vector3d::Constant(box / 2));
                }
    return s;
}

/// A one-atom primitive fcc cell, sheared: every neighbour is an image of the atom itself.
Structure primitive_fcc(const std::string& el, double a) {
    Eigen::Matrix3d L;
    L << 0, a / 2, a / 2, a / 2, 0, a / 2, a / 2, a / 2, 0;
    Eigen::Matrix3d strain = Eigen::Matrix3d::Identity();
    strain(0, 1) = 0.02;
    strain(2, 2) = 0.99;
    Structure s(L * strain);
    s.add_atom(el, Eigen::Vector3d(0.1, 0.2, 0.3));
    return s;
}

// ---------------------------------------------------------------------------------------------
// Finite differences

double energy(const Potential& p, const Structure& s) { return p.compute(s).energy; }

/// Largest |F_analytic + dE/dx| over all atoms and directions, central differences.
double force_error(const Potential& p, const Structure& s, double h = 1e-4) {
    const auto ef = p.compute(s);
    double worst = 0;
    for (std::size_t i = 0; i < s.size(); ++i)
        for (int k = 0; k < 3; ++k) {
            Structure plus = s, minus = s;
            Eigen::Vector3d d = Eigen::Vector3d::Zero();
            d[k] = h;
            plus[i].frac = s.to_fractional(s.cartesian(i) + d);
            minus[i].frac = s.to_fractional(s.cartesian(i) - d);
            const double fd = -(energy(p, plus) - energy(p, minus)) / (2 * h);
            worst = std::max(worst, std::abs(fd - ef.forces[i][k]));
        }
    return worst;
}

/// Largest |σ_analytic − (1/V) dE/dε| over the 6 components, as ASE's numerical stress:
/// the cell and the atoms deformed together by (1 + ε), ε symmetric.
double stress_error(const Potential& p, const Structure& s, double h = 1e-5) {
    const auto ef = p.compute(s);
    REQUIRE(ef.has_stress);
    double worst = 0;
    for (int a = 0; a < 3; ++a)
        for (int b = a; b < 3; ++b) {
            auto strained = [&](double e) {
                Eigen::Matrix3d F = Eigen::Matrix3d::Identity();
                F(a, b) += e;
                if (a != b) F(b, a) += e;
                Structure t = s;
                t.set_lattice(s.lattice() * F, /*keep_cartesian=*/false);  // fractional kept: atoms follow
                return energy(p, t);
            };
            const double de = strained(h) - strained(-h);
            const double fd = de / ((a == b ? 2 : 4) * h * s.volume());
            worst = std::max(worst, std::abs(fd - ef.stress(a, b)));
            CHECK(ef.stress(a, b) == doctest::Approx(ef.stress(b, a)).epsilon(1e-12));
        }
    return worst;
}

// ---------------------------------------------------------------------------------------------
// ASE reference

void write_text(const fs::path& p, const std::string& text) {
    std::ofstream out(p, std::ios::binary);
    out << text;
}

struct Case {
    std::string name;
    const Potential* potential;
    Structure structure;
};

nlohmann::json case_json(const Case& c) {
    nlohmann::json pos = nlohmann::json::array(), cell = nlohmann::json::array(), symbols = nlohmann::json::array();
    for (std::size_t i = 0; i < c.structure.size(); ++i) {
        const auto x = c.structure.cartesian(i);
        pos.push_back({x[0], x[1], x[2]});
        symbols.push_back(c.structure[i].species);
    }
    for (int r = 0; r < 3; ++r) cell.push_back({c.structure.lattice()(r, 0), c.structure.lattice()(r, 1), c.structure.lattice()(r, 2)});
    auto params = c.potential->parameters();
    params.erase("potential");
    const auto& pbc = c.structure.pbc();
    return {{"name", c.name}, {"potential", c.potential->name()}, {"parameters", params}, {"cell", cell},
            {"positions", pos}, {"symbols", symbols}, {"pbc", {pbc[0], pbc[1], pbc[2]}}};
}

// ASE's calculators on the same structures: energy, forces, and the stress where ASE has one
// (not for Morse, not without a periodic direction).
const char* kAseScript = R"(
import json, numpy as np
from ase import Atoms
from ase.calculators.emt import EMT
from ase.calculators.lj import LennardJones
from ase.calculators.morse import MorsePotential
out = []
for c in json.load(open('cases.json')):
    atoms = Atoms(symbols=c['symbols'], positions=c['positions'], cell=c['cell'], pbc=c['pbc'])
    p = c['parameters']
    atoms.calc = {'emt': EMT, 'lj': LennardJones, 'morse': MorsePotential}[c['potential']](**p)
    r = {'name': c['name'], 'energy': float(atoms.get_potential_energy()), 'forces': atoms.get_forces().tolist()}
    if c['potential'] != 'morse' and any(c['pbc']):
        r['stress'] = atoms.get_stress(voigt=False).tolist()
    out.append(r)
json.dump(out, open('ase.json', 'w'))
)";

/// Runs ASE on every case; empty when python3-ase is missing.
std::vector<nlohmann::json> ase_reference(const std::vector<Case>& cases, const std::string& tag) {
    if (!interphase::testing::have_ase()) return {};
    const auto dir = testing::scratch("builtin-ase-" + tag);
    nlohmann::json all = nlohmann::json::array();
    for (const auto& c : cases) all.push_back(case_json(c));
    write_text(dir / "cases.json", all.dump());
    write_text(dir / "reference.py", kAseScript);
    const std::string cmd = "cd '" + dir.string() + "' && " + kPython + " reference.py > reference.log 2>&1";
    if (std::system(cmd.c_str()) != 0) FAIL("ASE failed: " << interphase::testing::slurp(dir / "reference.log"));
    const auto j = nlohmann::json::parse(interphase::testing::slurp(dir / "ase.json"));
    return {j.begin(), j.end()};
}

/// Our potential against ASE's numbers: energy and forces to 1e-6 (eV, eV/Å), stress to 1e-8 eV/Å³.
void compare_with_ase(const std::vector<Case>& cases, const std::string& tag) {
    const auto ref = ase_reference(cases, tag);
    if (ref.empty()) {
        MESSAGE("python3-ase is not installed: ASE comparison skipped");
        return;
    }
    REQUIRE(ref.size() == cases.size());
    for (std::size_t k = 0; k < cases.size(); ++k) {
        const auto& c = cases[k];
        CAPTURE(c.name);
        const auto ours = c.potential->compute(c.structure);
        const double e_ase = ref[k]["energy"].get<double>();
        MESSAGE(c.name << ": " << c.structure.size() << " atoms, E = " << ours.energy << " eV (ASE " << e_ase << ")");
        CHECK(std::abs(ours.energy - e_ase) < 1e-6);
        double df = 0, fscale = 0;
        for (std::size_t i = 0; i < c.structure.size(); ++i)
            for (int d = 0; d < 3; ++d) {
                const double f_ase = ref[k]["forces"][i][static_cast<std::size_t>(d)].get<double>();
                df = std::max(df, std::abs(ours.forces[i][d] - f_ase));
                fscale = std::max(fscale, std::abs(f_ase));
            }
        CHECK(df < 1e-6);
        // Off equilibrium, so forces are really compared (one atom in a Bravais cell feels none).
        if (c.structure.size() > 1) CHECK(fscale > 1e-3);
        if (ref[k].contains("stress")) {
            REQUIRE(ours.has_stress);
            double ds = 0;
            for (int a = 0; a < 3; ++a)
                for (int b = 0; b < 3; ++b)
                    ds = std::max(ds, std::abs(ours.stress(a, b) -
                                               ref[k]["stress"][static_cast<std::size_t>(a)][static_cast<std::size_t>(b)].get<double>()));
            CHECK(ds < 1e-8);
        }
    }
}

std::map<double, int> shells(const Structure& s, double cutoff, double a) {
    // Neighbours per atom by shell distance (in units of a, rounded), from the half list.
    std::map<double, int> count;
    for (const auto& p : neighbor_pairs(s, cutoff)) count[std::round(p.r / a * 1000) / 1000] += 2;
    for (auto& [r, c] : count) c /= static_cast<int>(s.size());
    return count;
}

}  // namespace

TEST_CASE("neighbour list: the fcc coordination shells 12, 6, 24, 12 in any cell, fewer at a surface") {
    const double a = 4.05;
    const double cutoff = 1.01 * a;  // first two shells: a/√2 (12) and a (6)
    const std::map<double, int> two_shells{{std::round(1000 / std::sqrt(2.0)) / 1000, 12}, {1.0, 6}};
    // The primitive cell: one atom, every neighbour an image of itself.
    Eigen::Matrix3d L;
    L << 0, a / 2, a / 2, a / 2, 0, a / 2, a / 2, a / 2, 0;
    Structure primitive(L);
    primitive.add_atom("Al", Eigen::Vector3d(0.3, 0.1, 0.7));
    CHECK(shells(primitive, cutoff, a) == two_shells);
    CHECK(shells(fcc(a, 1, {"Al"}), cutoff, a) == two_shells);
    CHECK(shells(fcc(a, 2, {"Al"}), cutoff, a) == two_shells);
    const auto four = shells(fcc(a, 3, {"Al"}), 1.42 * a, a);  // up to a√2: 12, 6, 24, 12
    CHECK(four.size() == 4);
    CHECK(four.at(1.0) == 6);
    CHECK(four.at(std::round(1000 * std::sqrt(1.5)) / 1000) == 24);
    CHECK(four.at(std::round(1000 * std::sqrt(2.0)) / 1000) == 12);

    // A (100) slab without periodicity along z: a top-plane atom has 4 neighbours in its plane
    // and 4 below; the middle planes have the bulk's 12.
    const auto slab = fcc100_slab("Al", a, 2, 4, 10.0);
    std::vector<int> nn(slab.size(), 0);
    for (const auto& p : neighbor_pairs(slab, 1.01 * a / std::sqrt(2.0))) {
        ++nn[p.i];
        ++nn[p.j];
    }
    for (std::size_t i = 0; i < slab.size(); ++i) CHECK(nn[i] == (slab[i].layer == 0 || slab[i].layer == 3 ? 8 : 12));

    // The same slab periodic along z with its 10 Å vacuum gap: still no pair across the gap.
    Structure periodic = slab;
    periodic.set_pbc({true, true, true});
    CHECK(neighbor_pairs(periodic, 5.0).size() == neighbor_pairs(slab, 5.0).size());

    // Coinciding atoms and an absurd cutoff for the cell are StructureErrors, not crashes.
    Structure twin = fcc(a, 1, {"Al"});
    twin.add_atom("Al", twin[0].frac + Eigen::Vector3d(1, 0, 0));  // the image of atom 1
    CHECK_THROWS_AS(neighbor_pairs(twin, 3.0), StructureError);
    CHECK_THROWS_AS(neighbor_pairs(primitive_fcc("Al", 1.0), 500.0), StructureError);
}

TEST_CASE("forces are -dE/dx and stress is dE/dε/V (central differences), bulk, slab and cluster") {
    LennardJonesParameters ljp;
    ljp.sigma = 2.3;
    ljp.epsilon = 0.05;
    LennardJonesParameters ljs = ljp;
    ljs.smooth = true;
    const LennardJones lj(ljp), lj_smooth(ljs);
    MorseParameters mp;
    mp.r0 = 2.6;
    mp.epsilon = 0.4;
    mp.rho0 = 5.0;
    const Morse morse(mp);
    const Emt emt;
    const std::vector<const Potential*> potentials{&lj, &lj_smooth, &morse, &emt};

    const double a_lj = 2.3 * std::pow(2.0, 1.0 / 6.0) * std::sqrt(2.0);
    for (const Potential* p : potentials) {
        CAPTURE(p->parameters().dump());
        const bool is_emt = p == &emt;
        const double a = is_emt ? 3.61 : p == &morse ? 2.6 * std::sqrt(2.0) : a_lj;
        Structure bulk = fcc(a * 1.01, 2, {is_emt ? "Cu" : "Ar"});
        if (is_emt) bulk[3].species = "Au";
        rattle(bulk, 0.08, 7);
        Structure slab = fcc100_slab(is_emt ? "Al" : "Ar", a, 2, 3, 8.0);
        rattle(slab, 0.08, 8);
        Structure cl = cluster(a, 0.8 * a, {is_emt ? "Pt" : "Ar", is_emt ? "Ni" : "Ar"});
        rattle(cl, 0.08, 9);
        REQUIRE(cl.size() == 13);
        Structure one = primitive_fcc(is_emt ? "Ag" : "Ar", a);

        CHECK(force_error(*p, bulk) < 2e-6);
        CHECK(force_error(*p, slab) < 2e-6);
        CHECK(force_error(*p, cl) < 2e-6);
        CHECK(force_error(*p, one) < 2e-6);
        CHECK(stress_error(*p, bulk) < 1e-7);
        CHECK(stress_error(*p, slab) < 1e-7);
        CHECK(stress_error(*p, one) < 1e-7);
        CHECK_FALSE(p->compute(cl).has_stress);

        // Newton's third law: no net force on an isolated or periodic system.
        for (const auto* s : {&bulk, &slab, &cl}) {
            Eigen::Vector3d total = Eigen::Vector3d::Zero();
            for (const auto& f : p->compute(*s).forces) total += f;
            CHECK(total.norm() < 1e-10);
        }
    }
}

TEST_CASE("EMT equals ASE's EMT: bulk Cu/Al/Au/Pt rattled, Al(100)+Au, Cu-Au, clusters, small cells") {
    const Emt emt;
    EmtParameters asap;
    asap.asap_cutoff = true;
    const Emt emt_asap(asap);
    std::vector<Case> cases;
    unsigned seed = 11;
    for (const auto& [el, a] : std::vector<std::pair<std::string, double>>{{"Cu", 3.61}, {"Al", 4.05}, {"Au", 4.08}, {"Pt", 3.92}}) {
        Structure s = fcc(a, 2, {el});
        rattle(s, 0.05, seed++);
        s[0].frac += Eigen::Vector3d(0.02, -0.01, 0.015);  // one atom well off its site
        cases.push_back({el + " bulk 2x2x2 rattled", &emt, s});
    }
    {
        Structure s = al100_au_adatom();
        rattle(s, 0.04, 21);
        cases.push_back({"Al(100)+Au adatom slab (T,T,F)", &emt, s});
    }
    {
        Structure s = fcc(3.75, 2, {"Cu", "Au", "Cu", "Cu"});  // Cu3Au-like ordering
        s.set_lattice(s.lattice() * Eigen::Vector3d(1.0, 1.02, 0.98).asDiagonal(), false);
        rattle(s, 0.05, 22);
        cases.push_back({"Cu-Au mixed cell", &emt, s});
        cases.push_back({"Cu-Au mixed cell, asap_cutoff", &emt_asap, s});
    }
    {
        Structure s = cluster(3.9, 4.5, {"Pd", "Ag", "Ni", "Pt"});
        rattle(s, 0.06, 23);
        cases.push_back({"Pd-Ag-Ni-Pt cluster (F,F,F)", &emt, s});
    }
    {
        Structure s = cluster(3.61, 2.6, {"Cu"});
        s.add_atom_cartesian("O", s.cartesian(0) + Eigen::Vector3d(0.3, 1.2, 1.5));
        s.add_atom_cartesian("H", s.cartesian(0) + Eigen::Vector3d(-1.4, 0.2, 1.1));
        s.add_atom_cartesian("C", s.cartesian(0) + Eigen::Vector3d(1.6, -1.3, -0.2));
        s.add_atom_cartesian("N", s.cartesian(0) + Eigen::Vector3d(0.1, -1.7, 1.4));
        rattle(s, 0.03, 24);
        cases.push_back({"Cu13 + H, C, N, O cluster", &emt, s});
    }
    cases.push_back({"one-atom sheared Ag cell", &emt, primitive_fcc("Ag", 4.09)});
    {
        Structure s(structures::lattice_from_parameters(5.1, 5.6, 5.9, 80, 100, 115));
        s.add_atom("Al", Eigen::Vector3d(0.05, 0.1, 0.2));
        s.add_atom("Cu", Eigen::Vector3d(0.55, 0.45, 0.6));
        s.add_atom("Au", Eigen::Vector3d(0.3, 0.8, 0.9));
        cases.push_back({"triclinic 3-atom cell", &emt, s});
    }
    compare_with_ase(cases, "emt");
}

TEST_CASE("LJ (shifted and smooth) and Morse equal ASE's on bulk, slab and cluster") {
    LennardJonesParameters ljp;
    ljp.sigma = 2.3;
    ljp.epsilon = 0.05;
    LennardJonesParameters ljs = ljp;
    ljs.smooth = true;
    ljs.rc = 6.0;
    ljs.ro = 4.5;
    const LennardJones lj(ljp), lj_smooth(ljs), lj_default;
    MorseParameters mp;
    mp.r0 = 2.6;
    mp.epsilon = 0.4;
    mp.rho0 = 5.0;
    const Morse morse(mp), morse_default;

    const double a = 2.3 * std::pow(2.0, 1.0 / 6.0) * std::sqrt(2.0);
    Structure bulk = fcc(a, 2, {"Ar"});
    rattle(bulk, 0.1, 31);
    Structure slab = fcc100_slab("Ar", a, 2, 3, 8.0);
    rattle(slab, 0.1, 32);
    Structure cl = cluster(a, 1.3 * a, {"Ar"});
    rattle(cl, 0.1, 33);
    Structure small = fcc(1.45, 2, {"Ar"});  // ASE's unit sigma and r0
    rattle(small, 0.03, 34);

    std::vector<Case> cases;
    for (const auto& [tag, p] : std::vector<std::pair<std::string, const Potential*>>{
             {"lj", &lj}, {"lj smooth", &lj_smooth}, {"morse", &morse}}) {
        cases.push_back({tag + " bulk", p, bulk});
        cases.push_back({tag + " slab", p, slab});
        cases.push_back({tag + " cluster", p, cl});
    }
    cases.push_back({"lj ASE defaults", &lj_default, small});
    cases.push_back({"morse ASE defaults", &morse_default, small});
    compare_with_ase(cases, "pair");

    // ASE's documented defaults: rc = 3σ, ro = 0.66 rc; the minimum of the pair term at 2^(1/6)σ.
    CHECK(lj.settings().rc == doctest::Approx(6.9));
    CHECK(lj.settings().ro == doctest::Approx(0.66 * 6.9));
    Structure dimer(Eigen::Matrix3d::Identity() * 20, {false, false, false});
    dimer.add_atom_cartesian("Ar", {5, 5, 5});
    dimer.add_atom_cartesian("Ar", {5 + 2.3 * std::pow(2.0, 1.0 / 6.0), 5, 5});
    const auto e = lj.compute(dimer);
    CHECK(e.forces[0].norm() < 1e-12);
    const double shift = 4 * 0.05 * (std::pow(1.0 / 3, 12) - std::pow(1.0 / 3, 6));
    CHECK(e.energy == doctest::Approx(-0.05 - shift).epsilon(1e-12));
    // Morse: depth ε at r0.
    dimer[1].frac = dimer.to_fractional({5 + 2.6, 5, 5});
    CHECK(morse.compute(dimer).energy == doctest::Approx(-0.4).epsilon(1e-12));
}

TEST_CASE("EMT: species without parameters are a StructureError naming the species and the atom") {
    Structure s = fcc(4.05, 1, {"Al"});
    s[2].species = "Li";
    try {
        (void)Emt().compute(s);
        FAIL("no exception");
    } catch (const StructureError& e) {
        const std::string m = e.what();
        CHECK(m.find("'Li'") != std::string::npos);
        CHECK(m.find("atom 3") != std::string::npos);
        CHECK(m.find("Al, Cu") != std::string::npos);
    }
    // An isolated atom has energy -E0 (ASE's convention), and fcc Al at EMT's own lattice
    // constant (3.995 Å with ASE's parameters and cutoff; 4.05 Å in experiment) is near zero
    // energy, EMT's reference state.
    Structure atom(Eigen::Matrix3d::Identity() * 15, {false, false, false});
    atom.add_atom_cartesian("Al", {7, 7, 7});
    CHECK(Emt().compute(atom).energy == doctest::Approx(3.28).epsilon(1e-12));
    double best_a = 0, best_e = 1e9;
    for (double a = 3.90; a <= 4.20; a += 0.005)
        if (const double en = Emt().compute(fcc(a, 1, {"Al"})).energy / 4; en < best_e) {
            best_e = en;
            best_a = a;
        }
    CHECK(best_a > 3.98);
    CHECK(best_a < 4.01);
    CHECK(std::abs(best_e) < 0.01);
}

TEST_CASE("potential registry: names, settings, did-you-mean errors") {
    auto& reg = PotentialRegistry::instance();
    CHECK(reg.names() == std::vector<std::string>{"lj", "morse", "emt"});
    auto lj = reg.create("lj", {{"sigma", 2.0}, {"epsilon", 0.1}, {"smooth", true}}, "wf.yaml");
    CHECK(lj->parameters()["rc"] == doctest::Approx(6.0));
    CHECK(lj->parameters()["ro"] == doctest::Approx(3.96));
    CHECK(reg.create("emt", nlohmann::json::object(), "wf.yaml")->name() == "emt");
    CHECK(reg.create("morse", nullptr, "wf.yaml")->parameters()["rho0"] == doctest::Approx(6.0));

    auto message = [](auto&& f) -> std::string {
        try {
            f();
        } catch (const InputError& e) {
            return e.what();
        }
        return "no InputError";
    };
    const auto m1 = message([&] { reg.create("emtt", {}, "wf.yaml"); });
    CHECK(m1.find("did you mean 'emt'") != std::string::npos);
    const auto m2 = message([&] { reg.create("lj", {{"sigmaa", 1.0}}, "wf.yaml"); });
    CHECK(m2.find("calculator.sigmaa") != std::string::npos);
    CHECK(m2.find("did you mean 'sigma'") != std::string::npos);
    const auto m3 = message([&] { reg.create("lj", {{"sigma", -1.0}}, "wf.yaml"); });
    CHECK(m3.find("calculator.sigma") != std::string::npos);
    const auto m4 = message([&] { reg.create("lj", {{"epsilon", "big"}}, "wf.yaml"); });
    CHECK(m4.find("must be a number") != std::string::npos);
    const auto m5 = message([&] { reg.create("lj", {{"smooth", true}, {"rc", 3.0}, {"ro", 3.5}}, "wf.yaml"); });
    CHECK(m5.find("calculator.ro") != std::string::npos);
    const auto m6 = message([&] { reg.create("morse", {{"rcut1", 3.0}}, "wf.yaml"); });
    CHECK(m6.find("rcut1") != std::string::npos);
    const auto m7 = message([&] { reg.create("emt", {{"asap_cutoff", 1}}, "wf.yaml"); });
    CHECK(m7.find("true or false") != std::string::npos);
}

TEST_CASE("builtin potentials are workflow calculators with an in-process potential") {
    auto& calcs = CalculatorRegistry::instance();
    for (const std::string name : {"lj", "morse", "emt"}) {
        CAPTURE(name);
        auto c = calcs.create(name, nlohmann::json::object(), "wf.yaml");
        REQUIRE(c->potential() != nullptr);
        CHECK(c->potential()->name() == name);
        CHECK(c->hashed_settings() == c->potential()->parameters());
        CHECK_NOTHROW(c->check_available());
        CHECK_THROWS_AS(c->launch("/tmp", 1), ExecutionError);
    }
    CHECK(calcs.create("cp2k", nlohmann::json::object(), "wf.yaml")->potential() == nullptr);
    const auto m = [&] {
        try {
            calcs.create("emt", {{"asap", true}}, "wf.yaml:3");
        } catch (const InputError& e) {
            return std::string(e.what());
        }
        return std::string();
    }();
    CHECK(m.find("wf.yaml:3") != std::string::npos);
    CHECK(m.find("asap_cutoff") != std::string::npos);

    // A single point through the calculator contract equals the potential's numbers.
    auto emt = calcs.create("emt", {}, "wf.yaml");
    CalculationRequest req;
    req.structure = al100_au_adatom();
    const auto dir = testing::scratch("builtin-calculator");
    emt->write_inputs(req, dir);
    CHECK(fs::exists(dir / "input.json"));
    const auto r = emt->parse(req, dir);
    const auto direct = Emt().compute(req.structure);
    CHECK(r.energy == direct.energy);
    CHECK(r.forces.size() == req.structure.size());
    CHECK(r.code == "emt");
    req.kind = CalculationKind::Relaxation;
    CHECK_THROWS_AS(emt->parse(req, dir), CalculationError);
}
