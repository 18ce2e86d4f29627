// Heterointerfaces: the Zur–McGill matches are compared with pymatgen's ZSLGenerator (Debian
// python3-pymatgen 2022.11, run from the test on the very same in-plane vectors), and the
// assembled interfaces are checked the way a scientist would look at them: atom counts, the
// strain the film carries, the gap, the facing planes, side tags, registries that are really
// different, the no-match diagnosis and the CLI (files ASE reads, errors naming the option).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <sys/wait.h>

#include "common/errors.hpp"
#include "structures/interface.hpp"
#include "structures/io.hpp"
#include "structures/prototypes.hpp"
#include "structures/zsl.hpp"
#include "test_paths.hpp"

namespace fs = std::filesystem;
using namespace interphase;
using namespace interphase::structures;

using interphase::testing::slurp;

namespace {


int run_shell(const std::string& cmd) {
    const int status = std::system(cmd.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The reference: pymatgen's ZSLGenerator on the vectors we give it, its match_transformation's
// Green–Lagrange strain, and the area of the primitive surface cell its SlabGenerator builds
// for the same bulk and plane (what CoherentInterfaceBuilder feeds to the ZSL search).
const char* kReferenceScript = R"PY(
import json, sys
import numpy as np
from pymatgen.core import Structure, Lattice
from pymatgen.core.surface import SlabGenerator
from pymatgen.analysis.interfaces.zsl import ZSLGenerator, vec_area
from pymatgen.analysis.elasticity.strain import Deformation

out = []
for c in json.load(open(sys.argv[1])):
    s = c["settings"]
    gen = ZSLGenerator(max_area_ratio_tol=s["max_area_ratio_tol"], max_area=s["max_area"],
                       max_length_tol=s["max_length_tol"], max_angle_tol=s["max_angle_tol"],
                       bidirectional=s["bidirectional"])
    matches = []
    for m in gen(np.array(c["film"]), np.array(c["substrate"])):
        matches.append({
            "ft": np.rint(np.array(m.film_transformation, dtype=float)).astype(int).tolist(),
            "st": np.rint(np.array(m.substrate_transformation, dtype=float)).astype(int).tolist(),
            "fsl": np.array(m.film_sl_vectors, dtype=float).tolist(),
            "ssl": np.array(m.substrate_sl_vectors, dtype=float).tolist(),
            "area": float(m.match_area),
            "vm": float(Deformation(m.match_transformation).green_lagrange_strain.von_mises_strain)})
    rec = {"matches": matches}
    for side in ("film_bulk", "substrate_bulk"):
        b = c[side]
        st = Structure(Lattice(b["lattice"]), b["species"], b["frac"])
        sg = SlabGenerator(st, b["miller"], 1, 3, in_unit_planes=True, center_slab=True, primitive=True,
                           reorient_lattice=False)
        rec[side + "_area"] = float(vec_area(*sg.get_slab(shift=0).lattice.matrix[:2]))
    out.append(rec)
json.dump(out, open(sys.argv[2], "w"))
)PY";

nlohmann::json run_pymatgen(const fs::path& dir, const nlohmann::json& cases) {
    REQUIRE_MESSAGE(run_shell("/usr/bin/python3 -c 'import pymatgen.analysis.interfaces.zsl' 2>/dev/null") == 0,
                    "python3-pymatgen (Debian) is needed as the reference: apt-get install python3-pymatgen");
    std::ofstream(dir / "zsl_ref.py") << kReferenceScript;
    std::ofstream(dir / "cases.json") << cases.dump();
    const int rc = run_shell("cd '" + dir.string() + "' && /usr/bin/python3 zsl_ref.py cases.json ref.json > ref.log 2>&1");
    REQUIRE_MESSAGE(rc == 0, slurp(dir / "ref.log"));
    return nlohmann::json::parse(slurp(dir / "ref.json"));
}

nlohmann::json vectors_json(const PlaneVectors& v) {
    return {{v[0][0], v[0][1], v[0][2]}, {v[1][0], v[1][1], v[1][2]}};
}

PlaneVectors vectors_from(const nlohmann::json& j) {
    PlaneVectors v;
    for (std::size_t i = 0; i < 2; ++i)
        v[i] = Eigen::Vector3d(j[i][0].get<double>(), j[i][1].get<double>(), j[i][2].get<double>());
    return v;
}

nlohmann::json bulk_json(const Structure& s, const std::array<int, 3>& miller) {
    nlohmann::json lat = nlohmann::json::array(), sp = nlohmann::json::array(), frac = nlohmann::json::array();
    for (int i = 0; i < 3; ++i) lat.push_back({s.lattice()(i, 0), s.lattice()(i, 1), s.lattice()(i, 2)});
    for (const auto& a : s.atoms()) {
        sp.push_back(a.species);
        frac.push_back({a.frac[0], a.frac[1], a.frac[2]});
    }
    return {{"lattice", lat}, {"species", sp}, {"frac", frac}, {"miller", miller}};
}

// Integer coefficients of lattice vectors in a basis (checked to be integers).
Eigen::Matrix2i coefficients(const PlaneVectors& basis, const PlaneVectors& v) {
    Eigen::Matrix<double, 3, 2> B;
    B.col(0) = basis[0];
    B.col(1) = basis[1];
    Eigen::Matrix2i M;
    for (int i = 0; i < 2; ++i) {
        const Eigen::Vector2d c = (B.transpose() * B).ldlt().solve(B.transpose() * v[static_cast<std::size_t>(i)]);
        for (int j = 0; j < 2; ++j) {
            M(i, j) = static_cast<int>(std::lround(c[j]));
            CHECK(std::abs(c[j] - M(i, j)) < 1e-6);
        }
    }
    return M;
}

int det2(const Eigen::Matrix2i& m) { return m(0, 0) * m(1, 1) - m(0, 1) * m(1, 0); }

// Same lattice: M1 = W M2 with W integer and unimodular.
bool same_lattice(const Eigen::Matrix2i& m1, const Eigen::Matrix2i& m2) {
    if (std::abs(det2(m1)) != std::abs(det2(m2)) || det2(m2) == 0) return false;
    const Eigen::Matrix2d W = m1.cast<double>() * m2.cast<double>().inverse();
    return (W - W.array().round().matrix()).cwiseAbs().maxCoeff() < 1e-9 && std::abs(std::abs(W.determinant()) - 1) < 1e-9;
}

std::string key_of(const Eigen::Matrix2i& ft, const Eigen::Matrix2i& st) {
    return fmt::format("{} {} {} {} | {} {} {} {}", ft(0, 0), ft(0, 1), ft(1, 0), ft(1, 1), st(0, 0), st(0, 1), st(1, 0),
                       st(1, 1));
}

Eigen::Matrix2i matrix_from(const nlohmann::json& j) {
    Eigen::Matrix2i m;
    m << j[0][0].get<int>(), j[0][1].get<int>(), j[1][0].get<int>(), j[1][1].get<int>();
    return m;
}

std::map<std::string, int> composition_of(const Structure& s, const std::string& label) {
    std::map<std::string, int> c;
    for (const auto& a : s.atoms())
        if (a.label == label) ++c[a.species];
    return c;
}

std::set<std::string> species_in_layer(const Structure& s, int layer) {
    std::set<std::string> out;
    for (const auto& a : s.atoms())
        if (a.layer == layer) out.insert(a.species);
    return out;
}

std::set<std::string> split_species(const std::string& s) {
    std::set<std::string> out;
    std::stringstream ss(s);
    std::string x;
    while (std::getline(ss, x, ',')) out.insert(x);
    return out;
}

// Two structures in the same cell are the same up to an in-plane translation.
bool same_up_to_translation(const Structure& x, const Structure& y) {
    if (x.size() != y.size()) return false;
    for (std::size_t k = 0; k < y.size(); ++k) {
        if (y[k].species != x[0].species) continue;
        Eigen::Vector3d t = y[k].frac - x[0].frac;
        if (std::abs(x.to_cartesian(Eigen::Vector3d(0, 0, t[2]))[2]) > 1e-6) continue;
        t[2] = 0;
        bool all = true;
        for (std::size_t i = 0; i < x.size() && all; ++i) {
            bool found = false;
            for (std::size_t j = 0; j < y.size() && !found; ++j) {
                if (y[j].species != x[i].species) continue;
                Eigen::Vector3d d = x[i].frac + t - y[j].frac;
                d[0] -= std::round(d[0]);
                d[1] -= std::round(d[1]);
                found = x.to_cartesian(d).norm() < 1e-6;
            }
            all = found;
        }
        if (all) return true;
    }
    return false;
}

InterfaceSpec al_li2s_spec() {
    InterfaceSpec spec;
    spec.miller_a = {1, 1, 1};
    spec.miller_b = {1, 1, 1};
    spec.layers_a = 2;
    spec.layers_b = 1;
    spec.zsl.max_area = 200;
    spec.shifts = 2;
    spec.max_interfaces = 12;
    return spec;
}

}  // namespace

TEST_CASE("ZSL enumeration: every supercell once, Zur reduction gives a reduced basis of the same lattice") {
    for (int n = 1; n <= 12; ++n) {
        int sigma = 0;
        for (int d = 1; d <= n; ++d) sigma += n % d == 0 ? d : 0;
        const auto ts = supercell_transformations(n);
        CHECK(static_cast<int>(ts.size()) == sigma);  // number of sublattices of index n
        for (const auto& t : ts) CHECK(det2(t) == n);
    }
    const Eigen::Vector3d a(2.9, 0, 0), b(1.45, 2.51, 0);
    const auto r = zur_reduce(3 * a + 5 * b, 2 * a + 3 * b);  // det -1: the same lattice
    CHECK(r[0].dot(r[1]) >= 0);
    CHECK(r[0].norm() <= r[1].norm() + 1e-12);
    CHECK(r[1].norm() <= (r[1] - r[0]).norm() + 1e-12);
    CHECK(plane_area({r[0], r[1]}) == doctest::Approx(plane_area({a, b})));
    CHECK(std::min(r[0].norm(), r[1].norm()) == doctest::Approx(std::min(a.norm(), b.norm())));
}

TEST_CASE("ZSL matches equal pymatgen's ZSLGenerator (transformations, areas, lattices, strains)") {
    struct Case {
        std::string a;
        std::array<int, 3> ma;
        std::string b;
        std::array<int, 3> mb;
        ZslSettings s;
    };
    // A|B: A is pymatgen's substrate, B its film. Areas below the default 400 Å² keep the
    // Python side to seconds; LiCl|Li2S runs with ZSLGenerator's defaults, and Li2S(111) on
    // LiAl(110) is a pair with no match at the defaults on both sides.
    const std::vector<Case> cases = {
        {"Al", {1, 1, 1}, "Li2S", {1, 1, 1}, {0.09, 200, 0.03, 0.01, true}},
        {"LiAl", {1, 1, 0}, "Al", {1, 1, 1}, {0.09, 250, 0.03, 0.01, false}},
        {"Li", {1, 1, 0}, "Al", {1, 0, 0}, {0.09, 130, 0.03, 0.01, true}},
        {"LiCl", {1, 0, 0}, "Li2S", {1, 0, 0}, ZslSettings{}},
        {"LiAl", {1, 1, 0}, "Li2S", {1, 1, 1}, ZslSettings{}},
    };
    nlohmann::json input = nlohmann::json::array();
    std::vector<InterfaceFace> fa, fb;
    std::vector<std::vector<ZslMatch>> ours;
    for (const auto& c : cases) {
        const auto ba = build_bulk(c.a), bb = build_bulk(c.b);
        fa.push_back(interface_face(ba, c.ma, 1, true));
        fb.push_back(interface_face(bb, c.mb, 1, false));
        ours.push_back(zsl_matches(fb.back().unit_vectors, fa.back().unit_vectors, c.s));
        input.push_back({{"film", vectors_json(fb.back().unit_vectors)},
                         {"substrate", vectors_json(fa.back().unit_vectors)},
                         {"film_bulk", bulk_json(bb, c.mb)},
                         {"substrate_bulk", bulk_json(ba, c.ma)},
                         {"settings",
                          {{"max_area_ratio_tol", c.s.max_area_ratio_tol},
                           {"max_area", c.s.max_area},
                           {"max_length_tol", c.s.max_length_tol},
                           {"max_angle_tol", c.s.max_angle_tol},
                           {"bidirectional", c.s.bidirectional}}}});
    }
    const auto ref = run_pymatgen(testing::scratch("zsl-pymatgen"), input);
    REQUIRE(ref.size() == cases.size());
    for (std::size_t k = 0; k < cases.size(); ++k) {
        const auto& c = cases[k];
        CAPTURE(c.a);
        CAPTURE(c.b);
        // Our primitive surface cells are pymatgen's (SlabGenerator, primitive=True).
        CHECK(fa[k].unit_area == doctest::Approx(ref[k]["substrate_bulk_area"].get<double>()).epsilon(1e-9));
        CHECK(fb[k].unit_area == doctest::Approx(ref[k]["film_bulk_area"].get<double>()).epsilon(1e-9));

        const auto& rm = ref[k]["matches"];
        REQUIRE(ours[k].size() == rm.size());
        if (k < 4) CHECK(!ours[k].empty());
        std::map<std::string, const ZslMatch*> by_key;
        for (const auto& m : ours[k]) by_key[key_of(m.film_transformation, m.substrate_transformation)] = &m;
        CHECK(by_key.size() == ours[k].size());  // each (film, substrate) supercell pair once
        for (const auto& r : rm) {
            const auto key = key_of(matrix_from(r["ft"]), matrix_from(r["st"]));
            CAPTURE(key);
            REQUIRE(by_key.count(key) == 1);
            const ZslMatch& m = *by_key[key];
            CHECK(m.film_area == doctest::Approx(r["area"].get<double>()).epsilon(1e-9));
            // The reduced supercell vectors span the same lattices as pymatgen's, with the same
            // lengths (reduced bases are unique up to ties between equal lengths).
            const auto fsl = vectors_from(r["fsl"]), ssl = vectors_from(r["ssl"]);
            CHECK(same_lattice(m.film_supercell, coefficients(fb[k].unit_vectors, fsl)));
            CHECK(same_lattice(m.substrate_supercell, coefficients(fa[k].unit_vectors, ssl)));
            for (std::size_t i = 0; i < 2; ++i) {
                CHECK(m.film_sl_vectors[i].norm() == doctest::Approx(fsl[i].norm()).epsilon(1e-9));
                CHECK(m.substrate_sl_vectors[i].norm() == doctest::Approx(ssl[i].norm()).epsilon(1e-9));
            }
            // pymatgen's strain of the film (Deformation(match_transformation).green_lagrange_strain).
            CHECK(von_mises_strain(green_lagrange_strain(m.film_sl_vectors, m.substrate_sl_vectors)) ==
                  doctest::Approx(r["vm"].get<double>()).epsilon(1e-7));
            CHECK(is_same_vectors(m.film_sl_vectors, m.substrate_sl_vectors, c.s));
        }
    }
}

TEST_CASE("Al(111)|Li2S(111): atom counts, strain carried by Li2S, the gap, facing planes and side tags") {
    const auto al = build_bulk("Al"), li2s = build_bulk("Li2S");
    for (bool periodic : {false, true}) {
        CAPTURE(periodic);
        auto spec = al_li2s_spec();
        spec.periodic = periodic;
        const auto set = build_interfaces(al, li2s, spec);
        REQUIRE(!set.no_match);
        REQUIRE(!set.interfaces.empty());
        CHECK(set.interfaces.size() == std::min<std::size_t>(12, set.candidates));
        // Al(111) has one cut; Li2S(111) three (Li|Li, Li|S, S|Li): every plane faces B once.
        CHECK(set.a.cuts.size() == 1);
        CHECK(set.b.cuts.size() == 3);
        std::set<std::string> b_faces;
        for (const auto& cut : set.b.cuts) b_faces.insert(cut.facing);
        CHECK(b_faces == std::set<std::string>{"Li", "S"});

        double last_area = 0, last_vm = 0;
        for (const auto& c : set.interfaces) {
            CAPTURE(c.rank);
            const auto& m = set.matches[static_cast<std::size_t>(c.match)];
            const auto& ca = set.a.cuts[static_cast<std::size_t>(c.cut_a)];
            const auto& cb = set.b.cuts[static_cast<std::size_t>(c.cut_b)];
            const Structure& s = c.structure;
            // Ranked by area, then strain.
            CHECK(m.area >= last_area - 1e-9);
            if (std::abs(m.area - last_area) < 1e-9) CHECK(m.von_mises_strain >= last_vm - 1e-12);
            last_area = m.area;
            last_vm = m.von_mises_strain;

            // Atoms: the two supercell slabs, species by species.
            const int na = std::abs(det2(m.supercell_a)), nb = std::abs(det2(m.supercell_b));
            std::map<std::string, int> want_a, want_b;
            for (const auto& a : ca.slab.atoms()) want_a[a.species] += na;
            for (const auto& a : cb.slab.atoms()) want_b[a.species] += nb;
            CHECK(s.size() == na * ca.slab.size() + nb * cb.slab.size());
            CHECK(composition_of(s, "A") == want_a);
            CHECK(composition_of(s, "B") == want_b);

            // The cell is A's supercell (Al is not strained); Li2S carries the strain, within the
            // ZSL tolerance, and the reported tensor is the one that maps its lattice onto the cell.
            const Eigen::Matrix3d L = s.lattice();
            const PlaneVectors cell{L.row(0).transpose(), L.row(1).transpose()};
            CHECK(plane_area(cell) == doctest::Approx(na * set.a.unit_area).epsilon(1e-9));
            CHECK(plane_area(cell) == doctest::Approx(m.area).epsilon(1e-9));
            const PlaneVectors a_sl{double(m.supercell_a(0, 0)) * set.a.unit_vectors[0] + double(m.supercell_a(0, 1)) * set.a.unit_vectors[1],
                                    double(m.supercell_a(1, 0)) * set.a.unit_vectors[0] + double(m.supercell_a(1, 1)) * set.a.unit_vectors[1]};
            const PlaneVectors b_sl{double(m.supercell_b(0, 0)) * set.b.unit_vectors[0] + double(m.supercell_b(0, 1)) * set.b.unit_vectors[1],
                                    double(m.supercell_b(1, 0)) * set.b.unit_vectors[0] + double(m.supercell_b(1, 1)) * set.b.unit_vectors[1]};
            for (std::size_t i = 0; i < 2; ++i) {
                CHECK(cell[i].norm() == doctest::Approx(a_sl[i].norm()).epsilon(1e-9));
                CHECK(std::abs(cell[i].norm() / b_sl[i].norm() - 1) <= 0.03 / 0.97 + 1e-12);
            }
            CHECK(von_mises_strain(green_lagrange_strain(b_sl, cell)) == doctest::Approx(m.von_mises_strain).epsilon(1e-9));
            CHECK(s.info["von_mises_strain"].get<double>() == doctest::Approx(m.von_mises_strain));
            // The reported tensor is a Green–Lagrange strain of B: symmetric, and det(I + 2E) is
            // the squared areal stretch of B's supercell onto the cell.
            CHECK(std::abs(m.strain(0, 1) - m.strain(1, 0)) < 1e-12);
            const double stretch = plane_area(cell) / plane_area(b_sl);
            CHECK((Eigen::Matrix2d::Identity() + 2 * m.strain).determinant() == doctest::Approx(stretch * stretch).epsilon(1e-9));

            // Heights: A below B, separated by exactly the gap; no A-B pair closer than the gap.
            double a_top = -1e300, b_bottom = 1e300, a_bottom = 1e300, b_top = -1e300;
            int a_planes = 0;
            for (std::size_t i = 0; i < s.size(); ++i) {
                const double z = s.cartesian(i)[2];
                if (s[i].label == "A") {
                    a_top = std::max(a_top, z), a_bottom = std::min(a_bottom, z);
                    a_planes = std::max(a_planes, s[i].layer + 1);
                } else {
                    REQUIRE(s[i].label == "B");
                    b_bottom = std::min(b_bottom, z), b_top = std::max(b_top, z);
                }
            }
            CHECK(b_bottom - a_top == doctest::Approx(spec.gap).epsilon(1e-9));
            double min_ab = 1e300;
            for (std::size_t i = 0; i < s.size(); ++i)
                for (std::size_t j = 0; j < s.size(); ++j)
                    if (s[i].label == "A" && s[j].label == "B") min_ab = std::min(min_ab, s.distance(i, j));
            CHECK(min_ab >= spec.gap - 1e-6);
            CHECK(s.min_interatomic_distance() > 1.5);
            if (periodic) {
                CHECK(s.pbc() == std::array<bool, 3>{true, true, true});
                // The second interface, across the cell boundary, has the same gap.
                CHECK(L(2, 2) - (b_top - a_bottom) == doctest::Approx(spec.gap));
            } else {
                CHECK(s.pbc() == std::array<bool, 3>{true, true, false});
                CHECK(L(2, 2) - (b_top - a_bottom) == doctest::Approx(spec.vacuum));
            }
            // The facing planes are the ones the cuts name; B's planes are counted after A's.
            CHECK(species_in_layer(s, a_planes - 1) == split_species(ca.facing));
            CHECK(species_in_layer(s, a_planes) == split_species(cb.facing));
            for (const auto& a : s.atoms()) CHECK((a.label == "A") == (a.layer < a_planes));
        }
    }
}

TEST_CASE("strained side A: the cell is B's supercell and Al carries the strain") {
    auto spec = al_li2s_spec();
    spec.strained = InterfaceSide::A;
    spec.max_interfaces = 3;
    const auto set = build_interfaces(build_bulk("Al"), build_bulk("Li2S"), spec);
    REQUIRE(!set.interfaces.empty());
    for (const auto& c : set.interfaces) {
        const auto& m = set.matches[static_cast<std::size_t>(c.match)];
        const Eigen::Matrix3d L = c.structure.lattice();
        CHECK(plane_area({L.row(0).transpose(), L.row(1).transpose()}) ==
              doctest::Approx(std::abs(det2(m.supercell_b)) * set.b.unit_area).epsilon(1e-9));
        CHECK(c.structure.info["strained"] == "A");
    }
}

TEST_CASE("registries: shifts that differ by a lattice translation of B are built once") {
    // Li2S(100) (square, 4.04 Å) on Al(100) (square, 2.864 Å): the smallest match puts the
    // c(2x2) cell of Al on the 1x1 cell of Li2S, so B's lattice contains (1/2, 1/2) of A's cell:
    // of the 2x2 grid, (0,0) ~ (1/2,1/2) and (1/2,0) ~ (0,1/2) are the same interface.
    InterfaceSpec spec;
    spec.miller_a = {1, 0, 0};
    spec.miller_b = {1, 0, 0};
    spec.layers_a = 1;
    spec.layers_b = 2;
    spec.zsl.max_area = 40;
    spec.shifts = 2;
    spec.max_interfaces = 100;
    const auto set = build_interfaces(build_bulk("Li2S"), build_bulk("Al"), spec);
    REQUIRE(!set.interfaces.empty());
    const auto& first = set.interfaces.front();
    const auto& m = set.matches[static_cast<std::size_t>(first.match)];
    CHECK(std::abs(det2(m.supercell_a)) == 1);
    CHECK(std::abs(det2(m.supercell_b)) == 2);
    std::map<std::pair<int, int>, std::vector<const InterfaceCandidate*>> by_pair;
    for (const auto& c : set.interfaces)
        if (c.match == first.match) by_pair[{c.cut_a, c.cut_b}].push_back(&c);
    CHECK(by_pair.size() == set.a.cuts.size() * set.b.cuts.size());
    for (const auto& [pair, list] : by_pair) {
        REQUIRE(list.size() == 2);
        // The two kept registries are different structures...
        CHECK_FALSE(same_up_to_translation(list[0]->structure, list[1]->structure));
        // ...and moving B by the merged shift (1/2, 1/2) of A's cell gives the first one back.
        Structure moved = list[0]->structure;
        const Eigen::Vector2d t = (Eigen::RowVector2d(0.5, 0.5) * m.supercell_a.cast<double>().inverse()).transpose();
        for (auto& a : moved.atoms())
            if (a.label == "B") a.frac += Eigen::Vector3d(t[0], t[1], 0);
        moved.wrap();
        CHECK(same_up_to_translation(moved, list[0]->structure));
    }
}

TEST_CASE("symmetry-equivalent matches are merged into one representative") {
    // Al(111) on itself: many supercells of the same size are rotations of one another.
    InterfaceSpec spec;
    spec.zsl.max_area = 40;
    spec.max_interfaces = 0;
    const auto al = build_bulk("Al");
    const auto set = build_interfaces(al, al, spec);
    int distinct = 0;
    for (const auto& m : set.matches) {
        if (m.equivalent_to < 0) {
            ++distinct;
            continue;
        }
        const auto& r = set.matches[static_cast<std::size_t>(m.equivalent_to)];
        CHECK(r.equivalent_to < 0);
        CHECK(m.area == doctest::Approx(r.area));
        CHECK(m.von_mises_strain == doctest::Approx(r.von_mises_strain).epsilon(1e-9));
        CHECK(std::abs(det2(m.supercell_a)) == std::abs(det2(r.supercell_a)));
    }
    CHECK(distinct > 0);
    CHECK(distinct < static_cast<int>(set.matches.size()));
    // Every index-n supercell of the hexagonal lattice matches itself unstrained; the sqrt(3)
    // R30 cell (index 3) and the 2x2 cell (index 4) are one class each up to the 6-fold rotations.
    int n1 = 0;
    for (const auto& m : set.matches) n1 += std::abs(det2(m.supercell_a)) == 1 && m.equivalent_to < 0;
    CHECK(n1 == 1);

    // Al(111) (3m) on LiAl(110) (2mm): below 250 Å² ZSL pairs the 7-cell LiAl supercell with
    // 27-cell Al supercells in 12 ways; they are images of one interface under the two slabs'
    // symmetries. Six pair the lattices as mirror images (opposite handedness): they are never
    // built, and each names the proper match it mirrors (LiAl(110) has mirror lines).
    InterfaceSpec lial;
    lial.miller_a = {1, 1, 0};
    lial.layers_a = lial.layers_b = 1;
    lial.zsl.max_area = 250;
    lial.max_interfaces = 0;
    const auto pair = build_interfaces(build_bulk("LiAl"), al, lial);
    REQUIRE(pair.matches.size() == 12);
    int proper = 0, distinct_pair = 0;
    for (const auto& m : pair.matches) {
        CHECK(std::abs(det2(m.supercell_a)) == 7);
        CHECK(std::abs(det2(m.supercell_b)) == 27);
        proper += m.buildable;
        distinct_pair += m.buildable && m.equivalent_to < 0;
        if (!m.buildable) {
            REQUIRE(m.equivalent_to >= 0);
            CHECK(pair.matches[static_cast<std::size_t>(m.equivalent_to)].buildable);
            // A mirror-image pairing: the two supercells have opposite handedness.
            CHECK(det2(m.supercell_a) * det2(m.supercell_b) < 0);
        } else {
            CHECK(det2(m.supercell_a) > 0);
            CHECK(det2(m.supercell_b) > 0);
        }
    }
    CHECK(proper == 6);
    CHECK(distinct_pair == 1);
}

TEST_CASE("Li2S(111) on LiAl(110): no match at the defaults, and a message that says what would match") {
    InterfaceSpec spec;
    spec.miller_a = {1, 1, 0};
    spec.miller_b = {1, 1, 1};
    spec.layers_a = 1;
    spec.layers_b = 1;
    const auto lial = build_bulk("LiAl"), li2s = build_bulk("Li2S");
    const auto set = build_interfaces(lial, li2s, spec);
    CHECK(set.matches.empty());
    CHECK(set.interfaces.empty());
    REQUIRE(set.no_match);
    const auto& nm = *set.no_match;
    CAPTURE(nm.message);
    CHECK(nm.message.find("no lattice match of Li2S(111) on LiAl(110) below 400") != std::string::npos);
    // Below 400 Å² the best candidate is outside the tolerances (or it would have matched).
    REQUIRE(nm.closest_within);
    CHECK(zsl_misfit(*nm.closest_within, true) > 0.01);
    CHECK(nm.message.find("--max-strain") != std::string::npos);
    // A larger search finds a match; the suggested --max-area really produces it.
    REQUIRE(nm.first_beyond);
    CHECK(nm.first_beyond->substrate_area > 400 * (1 - 0.09));
    CHECK(is_same_vectors(nm.first_beyond->film_sl_vectors, nm.first_beyond->substrate_sl_vectors, spec.zsl));
    const auto pos = nm.message.find("try --max-area ");
    REQUIRE(pos != std::string::npos);
    const double suggested = std::stod(nm.message.substr(pos + 15));
    auto wider = spec;
    wider.zsl.max_area = suggested;
    wider.max_interfaces = 1;
    const auto found = build_interfaces(lial, li2s, wider);
    CHECK(!found.no_match);
    CHECK(!found.matches.empty());
    CHECK(found.interfaces.size() == 1);
}

TEST_CASE("bad parameters: InputError naming the field") {
    const auto al = build_bulk("Al"), li2s = build_bulk("Li2S");
    auto field_of = [&](auto mutate) -> std::string {
        auto spec = al_li2s_spec();
        mutate(spec);
        try {
            build_interfaces(al, li2s, spec);
        } catch (const InputError& e) {
            return e.field();
        }
        return "(no error)";
    };
    CHECK(field_of([](InterfaceSpec& s) { s.gap = -1; }) == "gap");
    CHECK(field_of([](InterfaceSpec& s) { s.shifts = 0; }) == "shifts");
    CHECK(field_of([](InterfaceSpec& s) { s.layers_a = 0; }) == "layers_a");
    CHECK(field_of([](InterfaceSpec& s) { s.vacuum = 0; }) == "vacuum");
    CHECK(field_of([](InterfaceSpec& s) { s.zsl.max_area = 0; }) == "max_area");
    CHECK(field_of([](InterfaceSpec& s) { s.zsl.max_length_tol = -0.1; }) == "max_length_tol");
    CHECK(field_of([](InterfaceSpec& s) { s.zsl.max_angle_tol = std::nan(""); }) == "max_angle_tol");
    CHECK(field_of([](InterfaceSpec& s) { s.max_interfaces = -1; }) == "max_interfaces");
    CHECK_THROWS_AS(zsl_matches({Eigen::Vector3d(1, 0, 0), Eigen::Vector3d(2, 0, 0)},
                                {Eigen::Vector3d(1, 0, 0), Eigen::Vector3d(0, 1, 0)}),
                    InputError);
}

TEST_CASE("CLI: build interface writes extxyz files ASE reads and a summary of every match") {
    REQUIRE_MESSAGE(fs::exists(testing::cli()), "build the interphase target first");
    const auto dir = testing::scratch("cli-interface");
    const auto cli = [&](const std::string& args) {
        return run_shell("cd '" + dir.string() + "' && '" + testing::cli().string() + "' build interface " + args +
                         " > out.txt 2> err.txt");
    };
    REQUIRE(cli("Al Li2S --miller-a 1,1,1 --miller-b 1,1,1 --layers-a 2 --layers-b 1 --max-area 200 --shifts 2 "
                "--max 3 -o out") == 0);
    const auto summary = nlohmann::json::parse(slurp(dir / "out" / "summary.json"));
    auto spec = al_li2s_spec();
    const auto set = build_interfaces(build_bulk("Al"), build_bulk("Li2S"), spec);
    CHECK(summary["zsl_matches"].size() == set.matches.size());
    CHECK(summary["settings"]["max_area"] == 200.0);
    CHECK(summary["settings"]["bidirectional"] == true);
    REQUIRE(summary["interfaces"].size() == 3);
    for (const auto& m : summary["zsl_matches"]) {
        CHECK(m.contains("supercell_a"));
        CHECK(m.contains("supercell_b"));
        CHECK(m["zsl"].contains("film_transformation"));
        CHECK(m["strain"].size() == 2);
    }
    // ASE reads every file: atom count, side labels, periodicity.
    std::string files;
    for (std::size_t i = 0; i < 3; ++i) {
        const auto& e = summary["interfaces"][i];
        CHECK(e["atoms"] == set.interfaces[i].structure.size());
        CHECK(e["match"] == set.interfaces[i].match);
        files += " '" + (dir / "out" / e["file"].get<std::string>()).string() + "'";
    }
    std::ofstream(dir / "ase_read.py") << "import sys\nfrom ase.io import read\n"
                                          "for f in sys.argv[1:]:\n"
                                          "    a = read(f)\n"
                                          "    lab = list(a.arrays['label'])\n"
                                          "    print(len(a), lab.count('A'), lab.count('B'), ''.join('T' if p else 'F' for p in a.pbc))\n";
    REQUIRE(run_shell("cd '" + dir.string() + "' && /usr/bin/python3 ase_read.py" + files + " > ase.txt 2>&1") == 0);
    std::istringstream ase(slurp(dir / "ase.txt"));
    for (std::size_t i = 0; i < 3; ++i) {
        std::size_t n = 0, na = 0, nb = 0;
        std::string pbc;
        ase >> n >> na >> nb >> pbc;
        const auto& s = set.interfaces[i].structure;
        CHECK(n == s.size());
        CHECK(na == composition_of(s, "A").begin()->second);
        CHECK(na + nb == s.size());
        CHECK(pbc == "TTF");
    }

    SUBCASE("no match: exit 2, the message names --max-area, summary.json explains") {
        CHECK(cli("LiAl Li2S --miller-a 1,1,0 --miller-b 1,1,1 -o none") == 2);
        const auto err = slurp(dir / "err.txt");
        CHECK(err.find("--max-area") != std::string::npos);
        CHECK(err.find("no lattice match") != std::string::npos);
        const auto nm = nlohmann::json::parse(slurp(dir / "none" / "summary.json"));
        CHECK(nm["no_match"]["message"].get<std::string>().find("try --max-area") != std::string::npos);
        CHECK(nm["interfaces"].empty());
    }
    SUBCASE("bad options are named") {
        const std::vector<std::pair<std::string, std::string>> bad = {
            {"--gap -1", "--gap"},
            {"--shifts 0", "--shifts"},
            {"--max-strain 0", "--max-strain"},
            {"--max-angle-strain 80", "--max-angle-strain"},
            {"--max-area -5", "--max-area"},
            {"--strained c", "--strained"},
            {"--vacuum 0", "--vacuum"},
            {"--layers-b 0", "--layers-b"},
            {"--periodic --vacuum 10", "--vacuum"},
        };
        for (const auto& [args, option] : bad) {
            CAPTURE(args);
            CHECK(cli("Al Li2S --miller-a 1,1,1 --miller-b 1,1,1 -o bad " + args) == 2);
            CHECK(slurp(dir / "err.txt").find(option) != std::string::npos);
        }
        CHECK(cli("Al Li2S --miller-a 0,0,0 --miller-b 1,1,1 -o bad") == 2);
        CHECK(slurp(dir / "err.txt").find("--miller-a") != std::string::npos);
        CHECK(cli("Al Nope --miller-a 1,1,1 --miller-b 1,1,1 -o bad") == 2);
    }
}
