// Slabs against pymatgen's SlabGenerator (python3-pymatgen 2022.11, the reference
// implementation), case by case on the same bulk files: the number of unique terminations, the
// atoms of every slab, pymatgen's candidate shifts, the in-plane cell, which slabs are
// symmetric, their dipoles with the same formal charges and the bonds each cut breaks.
// pymatgen runs once for the whole table (one python process) to keep the test to seconds.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>

#include "structures/elements.hpp"
#include "structures/io.hpp"
#include "structures/prototypes.hpp"
#include "structures/slab.hpp"
#include "test_paths.hpp"

using namespace interphase;
using namespace interphase::structures;

namespace {

struct Case {
    const char* phase;
    std::array<int, 3> miller;
    double min_slab;       // pymatgen min_slab_size (Å, or planes with in_unit_planes)
    double min_vacuum;     // pymatgen min_vacuum_size
    bool in_unit_planes;
    double bond;           // > 0: also compare broken bonds of this cation–anion pair cutoff (Å)
    const char* pair[2];
};

// Every shipped prototype of the interphase screening, Miller indices up to 1 and some 2, thin
// and thick slabs, both thickness conventions. LiAl(111) and Li3P(101) have 3 and 4
// terminations; Li2S(111), Li3P(001), (100), (102), (201), (112) have 2.
const Case kCases[] = {
    {"Li", {1, 0, 0}, 10, 10, false, 0, {}},
    {"Li", {1, 1, 0}, 10, 10, false, 0, {}},
    {"Li", {1, 1, 1}, 10, 10, false, 0, {}},
    {"Li", {2, 1, 0}, 8, 10, false, 0, {}},
    {"Al", {1, 0, 0}, 10, 10, false, 0, {}},
    {"Al", {1, 1, 0}, 12, 10, false, 0, {}},
    {"Al", {1, 1, 1}, 4, 3, true, 0, {}},
    {"Al", {2, 1, 0}, 10, 10, false, 0, {}},
    {"LiAl", {1, 0, 0}, 10, 10, false, 0, {}},
    {"LiAl", {1, 1, 0}, 10, 10, false, 0, {}},
    {"LiAl", {1, 1, 1}, 10, 10, false, 0, {}},
    {"LiAl", {2, 1, 0}, 7, 10, false, 0, {}},
    {"Li2S", {1, 0, 0}, 3, 2, true, 2.563, {"Li", "S"}},
    {"Li2S", {1, 1, 0}, 10, 10, false, 2.563, {"Li", "S"}},
    {"Li2S", {1, 1, 1}, 10, 10, false, 2.563, {"Li", "S"}},
    {"Li2S", {2, 2, 1}, 10, 10, false, 0, {}},
    {"Li3P", {0, 0, 1}, 10, 10, false, 0, {}},
    {"Li3P", {1, 0, 0}, 10, 10, false, 0, {}},
    {"Li3P", {1, 1, 0}, 10, 10, false, 0, {}},
    {"Li3P", {1, 0, 1}, 10, 10, false, 0, {}},
    {"Li3P", {1, 0, 2}, 10, 10, false, 0, {}},
    {"Li3P", {2, 0, 1}, 10, 10, false, 0, {}},
    {"Li3P", {1, 1, 2}, 6, 10, false, 0, {}},
    {"LiCl", {1, 0, 0}, 10, 10, false, 2.76, {"Li", "Cl"}},
    {"LiCl", {1, 1, 0}, 10, 10, false, 2.76, {"Li", "Cl"}},
    {"LiCl", {1, 1, 1}, 10, 10, false, 2.76, {"Li", "Cl"}},
    {"LiCl", {2, 1, 0}, 15, 10, false, 0, {}},
};

// The reference: pymatgen on the same CIF with the same arguments. Everything a slab exposes
// is reduced to numbers that do not depend on how the cell is written (sorted lists, the
// Gauss-reduced in-plane cell), since pymatgen's slab order and cell choice differ from ours.
const char* kScript = R"PY(
import json, sys, warnings
warnings.filterwarnings("ignore")
import numpy as np
from pymatgen.core import Structure
from pymatgen.core.surface import SlabGenerator

def reduced_2d(a, b):
    a, b = np.array(a[:3]), np.array(b[:3])
    while True:
        if np.linalg.norm(b) < np.linalg.norm(a): a, b = b, a
        ratio = float(np.dot(a, b) / np.dot(a, a))
        if abs(ratio) <= 0.5 + 1e-9: break
        b = b - round(ratio) * a
    return sorted([float(np.linalg.norm(a)), float(np.linalg.norm(b))]), abs(float(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b)))

out = []
for c in json.load(open(sys.argv[1])):
    bulk = Structure.from_file(c["file"])
    gen = SlabGenerator(bulk, c["miller"], c["min_slab"], c["min_vacuum"], center_slab=True, primitive=True,
                        in_unit_planes=c["in_unit_planes"], lll_reduce=False)
    slabs = gen.get_slabs(ftol=0.1, tol=0.1)
    r = {"shifts": [float(x) for x in gen._calculate_possible_shifts(tol=0.1)], "h": float(gen._proj_height),
         "atoms": sorted(len(s) for s in slabs), "areas": [float(s.surface_area) for s in slabs],
         "symmetric": sorted(bool(s.is_symmetric()) for s in slabs)}
    lengths, cosine = reduced_2d(*slabs[0].lattice.matrix[:2])
    r["lengths"], r["cos"] = lengths, cosine
    dip = []
    for s in slabs:
        s.add_oxidation_state_by_element(c["charges"])
        dip.append(float(np.linalg.norm(s.dipole)) / s.surface_area)
    r["dipoles"] = sorted(dip)
    if c["bond"] > 0:
        with_bonds = gen.get_slabs(bonds={tuple(c["pair"]): c["bond"]}, ftol=0.1, tol=0.1, max_broken_bonds=10**6)
        r["broken"] = sorted(float(s.energy) / s.surface_area for s in with_bonds)
    out.append(r)
json.dump(out, open(sys.argv[2], "w"))
)PY";

std::pair<std::vector<double>, double> reduced_2d(Eigen::Vector3d a, Eigen::Vector3d b) {
    while (true) {
        if (b.norm() < a.norm()) std::swap(a, b);
        const double ratio = a.dot(b) / a.dot(a);
        if (std::abs(ratio) <= 0.5 + 1e-9) break;  // reduced (60° and 120° are both reduced)
        b -= std::round(ratio) * a;
    }
    std::vector<double> l{a.norm(), b.norm()};
    std::sort(l.begin(), l.end());
    return {l, std::abs(a.dot(b) / a.norm() / b.norm())};
}

}  // namespace

TEST_CASE("27 (phase, hkl) cases: terminations, atoms, shifts, cells, symmetry, dipoles, broken bonds = pymatgen") {
    REQUIRE_MESSAGE(std::system("/usr/bin/python3 -c 'import pymatgen.core.surface' 2>/dev/null") == 0,
                    "python3-pymatgen (the reference implementation) is not importable: scripts/setup.sh installs it");
    const auto dir = testing::scratch("slab-pymatgen");
    nlohmann::json cases = nlohmann::json::array();
    for (const auto& c : kCases) {
        const auto file = dir / (std::string(c.phase) + ".cif");
        if (!std::filesystem::exists(file)) write_structure(file, build_bulk(c.phase));
        nlohmann::json charges = nlohmann::json::object();
        for (const auto& [sp, q] : formal_charges(build_bulk(c.phase))) charges[sp] = q;
        cases.push_back({{"file", file.string()},
                         {"miller", c.miller},
                         {"min_slab", c.min_slab},
                         {"min_vacuum", c.min_vacuum},
                         {"in_unit_planes", c.in_unit_planes},
                         {"charges", charges},
                         {"bond", c.bond},
                         {"pair", c.bond > 0 ? nlohmann::json{c.pair[0], c.pair[1]} : nlohmann::json::array()}});
    }
    std::ofstream(dir / "cases.json") << cases.dump();
    std::ofstream(dir / "reference.py") << kScript;
    const std::string cmd = fmt::format("/usr/bin/python3 {} {} {}", (dir / "reference.py").string(),
                                        (dir / "cases.json").string(), (dir / "pymatgen.json").string());
    REQUIRE(std::system(cmd.c_str()) == 0);
    nlohmann::json ref;
    std::ifstream(dir / "pymatgen.json") >> ref;
    REQUIRE(ref.size() == std::size(kCases));

    std::size_t index = 0;
    int multi = 0;
    for (const auto& c : kCases) {
        const auto& r = ref[index++];
        const std::string name = fmt::format("{}({}{}{}) min_slab {} {}", c.phase, c.miller[0], c.miller[1], c.miller[2],
                                             c.min_slab, c.in_unit_planes ? "planes" : "Å");
        CAPTURE(name);
        // Read back from the same file pymatgen read, so both start from identical numbers.
        const auto bulk = read_structure(dir / (std::string(c.phase) + ".cif"));
        SlabSpec spec;
        spec.miller = c.miller;
        spec.thickness = c.min_slab;
        spec.vacuum = c.min_vacuum;
        spec.in_unit_planes = c.in_unit_planes;
        const SlabGenerator gen(bulk, spec);
        const auto slabs = gen.all_slabs(spec);

        // The headline: same number of unique terminations, same atoms in each slab.
        CHECK(gen.terminations().size() == r["atoms"].size());
        REQUIRE(slabs.size() == gen.terminations().size());
        std::vector<int> atoms;
        for (const auto& s : slabs) atoms.push_back(static_cast<int>(s.size()));
        std::sort(atoms.begin(), atoms.end());
        CHECK(atoms == r["atoms"].get<std::vector<int>>());
        if (slabs.size() > 1) ++multi;

        // Candidate shifts (fractions of pymatgen's c), matched within 0.01 Å along the normal.
        const double h = r["h"].get<double>();
        CHECK(std::abs(gen.oriented().pymatgen_height) == doctest::Approx(h).epsilon(1e-9));
        const auto shifts = gen.pymatgen_shifts();
        REQUIRE(shifts.size() == r["shifts"].size());
        for (const auto& s : r["shifts"]) {
            const double want = s.get<double>();
            const bool found = std::any_of(shifts.begin(), shifts.end(), [&](double x) {
                return std::abs((x - want) - std::round(x - want)) * h < 0.01;
            });
            CHECK_MESSAGE(found, fmt::format("pymatgen shift {:.5f} not among ours", want));
        }

        // The same 2D lattice: area and Gauss-reduced lengths and angle.
        const auto& L = slabs.front().lattice();
        const auto [lengths, cosine] = reduced_2d(L.row(0), L.row(1));
        for (const auto& s : slabs) CHECK(s.info["area"].get<double>() == doctest::Approx(r["areas"][0].get<double>()).epsilon(1e-6));
        CHECK(lengths[0] == doctest::Approx(r["lengths"][0].get<double>()).epsilon(1e-6));
        CHECK(lengths[1] == doctest::Approx(r["lengths"][1].get<double>()).epsilon(1e-6));
        CHECK(cosine == doctest::Approx(r["cos"].get<double>()).epsilon(1e-6));

        // Symmetric slabs and dipoles (same formal charges): same multisets.
        std::vector<bool> symmetric;
        std::vector<double> dipoles;
        for (const auto& s : slabs) {
            symmetric.push_back(s.info["symmetric"].get<bool>());
            dipoles.push_back(std::abs(s.info["dipole_per_area"].get<double>()));
            CHECK(s.info["stoichiometric"].get<bool>());  // whole oriented cells: bulk composition
        }
        std::sort(symmetric.begin(), symmetric.end());
        std::sort(dipoles.begin(), dipoles.end());
        CHECK(symmetric == r["symmetric"].get<std::vector<bool>>());
        REQUIRE(dipoles.size() == r["dipoles"].size());
        for (std::size_t i = 0; i < dipoles.size(); ++i)
            CHECK(dipoles[i] == doctest::Approx(r["dipoles"][i].get<double>()).epsilon(1e-6).scale(1e-3));

        // Broken cation–anion bonds per Å² (pymatgen counts the bonds of its `bonds` pair only;
        // our cutoff factor is chosen so that the same pair is the only bond).
        if (c.bond > 0) {
            SlabSpec bonded = spec;
            const double r_sum = element(c.pair[0]).covalent_radius + element(c.pair[1]).covalent_radius;
            bonded.bond_scale = c.bond / r_sum;
            const SlabGenerator g2(bulk, bonded);
            std::vector<double> broken;
            for (const auto& t : g2.terminations()) broken.push_back(t.broken_bonds_per_area);
            std::sort(broken.begin(), broken.end());
            REQUIRE(broken.size() == r["broken"].size());
            for (std::size_t i = 0; i < broken.size(); ++i)
                CHECK(broken[i] == doctest::Approx(r["broken"][i].get<double>()).epsilon(1e-6).scale(1e-3));
        }
    }
    CHECK(multi >= 8);  // the table exercises the grouping, not only one-termination planes
}
