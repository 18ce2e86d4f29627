// Li (here Au / H) hops across metal|metal interfaces built by build_interfaces: end points inside
// each phase (checked against heights and side tags computed here, and against a brute-force
// search over all site pairs), named sites and the reverse direction, the sanity check of
// relaxed end points, fixed outer planes (counted plane by plane here), and the shortest lattice
// vector against a numpy brute force (python3, run from the test) with the smallest supercell
// checked by brute force over repeats 1..6.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fmt/format.h>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/errors.hpp"
#include "structures/interface.hpp"
#include "structures/interface_hops.hpp"
#include "structures/interstitials.hpp"
#include "structures/lattice_tools.hpp"
#include "structures/neb_path.hpp"
#include "structures/prototypes.hpp"
#include "test_paths.hpp"

using namespace interphase;
using namespace interphase::structures;
namespace fs = std::filesystem;
using Vec = Eigen::Vector3d;

namespace {

/// A metal|metal interface: the first-ranked structure of build_interfaces (slab model unless
/// periodic), three d_hkl repeats each side.
Structure metal_interface(const std::string& a, const std::string& b, std::array<int, 3> miller, bool periodic = false,
                          int layers = 3) {
    InterfaceSpec spec;
    spec.miller_a = miller;
    spec.miller_b = miller;
    spec.layers_a = layers;
    spec.layers_b = layers;
    spec.zsl.max_area = 150;
    spec.zsl.max_length_tol = 0.03;
    spec.zsl.max_angle_tol = 0.01;
    spec.max_interfaces = 1;
    spec.periodic = periodic;
    const auto set = build_interfaces(build_bulk(a), build_bulk(b), spec);
    REQUIRE_MESSAGE(!set.interfaces.empty(), "no " << a << "|" << b << " match");
    return set.interfaces.front().structure;
}

/// Unit normal a×b and heights along it; independent of the library's plane finder.
Vec normal_of(const Structure& s) {
    Vec n = s.lattice().row(0).transpose().cross(s.lattice().row(1).transpose()).normalized();
    if (n.dot(s.lattice().row(2).transpose()) < 0) n = -n;
    return n;
}

/// Top of A and bottom of B (Å along the normal) in a slab-model A-below-B interface.
struct Blocks {
    double a_bottom = 1e300, a_top = -1e300, b_bottom = 1e300, b_top = -1e300;
};
Blocks blocks_of(const Structure& s) {
    const Vec n = normal_of(s);
    Blocks b;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const double h = n.dot(s.cartesian(i));
        if (s[i].label == "A") {
            b.a_bottom = std::min(b.a_bottom, h);
            b.a_top = std::max(b.a_top, h);
        } else if (s[i].label == "B") {
            b.b_bottom = std::min(b.b_bottom, h);
            b.b_top = std::max(b.b_top, h);
        }
    }
    return b;
}

/// Brute-force minimum image over neighbouring cells (in-plane only for a slab model).
double brute_distance(const Structure& s, const Vec& fa, const Vec& fb) {
    double best = 1e300;
    const int rc = s.pbc()[2] ? 2 : 0;
    for (int i = -2; i <= 2; ++i)
        for (int j = -2; j <= 2; ++j)
            for (int k = -rc; k <= rc; ++k) best = std::min(best, s.to_cartesian(fb - fa + Vec(i, j, k)).norm());
    return best;
}

std::string what_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "(no error)";
}

std::string field_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const InputError& e) {
        return e.field();
    }
    return "(no InputError)";
}

bool have_numpy() { return std::system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") == 0; }

}  // namespace

TEST_CASE("interface hop: Au from inside Al to inside Cu across Al(111)|Cu(111), not between two gap sites") {
    const auto iface = metal_interface("Al", "Cu", {1, 1, 1});
    const Blocks blk = blocks_of(iface);
    REQUIRE(blk.b_bottom - blk.a_top == doctest::Approx(2.0));  // the default gap
    const Vec n = normal_of(iface);
    const double tol = 0.3;

    // The old failure mode exists here: candidate sites of side A lie in the gap above A's top plane.
    const auto sites = find_interface_sites(iface);
    int gap_sites_a = 0;
    for (const auto& s : sites)
        if (s.side == 'A' && n.dot(s.site.position) > blk.a_top + tol) ++gap_sites_a;
    CHECK(gap_sites_a > 0);

    InterfaceHopOptions o;
    o.species = "Au";
    const auto h = interface_hop(iface, o);
    MESSAGE(iface.formula() << ", " << gap_sites_a << " side-A sites in the gap; " << h.description);
    REQUIRE(h.initial.size() == iface.size() + 1);
    REQUIRE(h.moving_atom == iface.size());
    CHECK(h.kind == "interface");
    for (const auto* s : {&h.initial, &h.final}) {
        CHECK((*s)[h.moving_atom].species == "Au");
        CHECK((*s)[h.moving_atom].label == "mobile");
        for (std::size_t i = 0; i < iface.size(); ++i) CHECK(((*s)[i].frac - iface[i].frac).norm() == 0.0);
    }
    const double hi = n.dot(h.initial.cartesian(h.moving_atom));
    const double hf = n.dot(h.final.cartesian(h.moving_atom));
    // Inside A: among A's planes (at most the tolerance above its top plane, above its bottom).
    CHECK(hi <= blk.a_top + tol);
    CHECK(hi > blk.a_bottom);
    CHECK(hf >= blk.b_bottom - tol);
    CHECK(hf < blk.b_top);
    const double d = brute_distance(iface, h.initial[h.moving_atom].frac, h.final[h.moving_atom].frac);
    CHECK(h.distance == doctest::Approx(d).epsilon(1e-9));
    CHECK(h.distance >= o.min_hop);
    CHECK(h.distance <= o.max_hop);

    // Brute force over every pair of candidate sites inside their phase (criterion written
    // here, from the heights of the atoms): the builder's hop is the shortest one >= min_hop.
    const double plane = 0.5 * (blk.a_top + blk.b_bottom);
    double shortest = 1e300;
    for (const auto& sa : sites) {
        const double ha = n.dot(sa.site.position);
        if (!(ha <= blk.a_top + tol && ha < plane && plane - ha <= 3.0)) continue;
        for (const auto& sb : sites)
            for (const auto& q : sb.site.equivalent) {
                const double hb = n.dot(iface.to_cartesian(q));
                if (!(hb >= blk.b_bottom - tol && hb > plane && hb - plane <= 3.0)) continue;
                const double dd = brute_distance(iface, sa.site.frac, q);
                if (dd >= o.min_hop) shortest = std::min(shortest, dd);
            }
    }
    CHECK(h.distance == doctest::Approx(shortest).epsilon(1e-9));

    const auto& info = h.initial.info["hop"];
    CHECK(info["kind"] == "interface");
    CHECK(info["from_side"] == "A");
    CHECK(info["to_side"] == "B");
    CHECK(info["species"] == "Au");
    CHECK(info["moving_atom"] == h.moving_atom);
    CHECK(info["plane_height"].get<double>() == doctest::Approx(plane).epsilon(1e-9));
    CHECK(h.final.info["hop"] == info);
    // The named sites are the ones used.
    for (const auto& s : sites) {
        if (s.site.name == info["from"]) CHECK(iface.minimum_image(s.site.frac, h.initial[h.moving_atom].frac).norm() < 1e-9);
        if (s.site.name == info["to"]) {
            bool on_copy = false;
            for (const auto& q : s.site.equivalent)
                on_copy |= iface.minimum_image(q, h.final[h.moving_atom].frac).norm() < 1e-9;
            CHECK(on_copy);
        }
    }
    // Deterministic.
    const auto again = interface_hop(iface, o);
    CHECK(again.initial.info == h.initial.info);
    CHECK((again.final[again.moving_atom].frac - h.final[h.moving_atom].frac).norm() == 0.0);

    // The hop must be checkable as built: the end points pass the relaxed-end-point check.
    const auto report = check_interface_hop(h.initial, h.final, h.moving_atom);
    CHECK(report.initial_side == 'A');
    CHECK(report.final_side == 'B');
    CHECK(report.initial_height == doctest::Approx(hi - plane).epsilon(1e-9));
    CHECK(report.final_height == doctest::Approx(hf - plane).epsilon(1e-9));
    CHECK(report.separation == doctest::Approx(h.distance));
}

TEST_CASE("interface hop: named sites, reverse direction and clear errors") {
    const auto iface = metal_interface("Al", "Cu", {1, 1, 1});
    const Blocks blk = blocks_of(iface);
    const Vec n = normal_of(iface);
    const double plane = 0.5 * (blk.a_top + blk.b_bottom);
    const auto sites = find_interface_sites(iface);
    std::vector<const InterfaceSite*> in_a, in_b;
    const InterfaceSite* gap_a = nullptr;
    for (const auto& s : sites) {
        const double h = n.dot(s.site.position);
        if (s.side == 'A' && h <= blk.a_top + 0.3) in_a.push_back(&s);
        if (s.side == 'A' && h > blk.a_top + 0.3 && !gap_a) gap_a = &s;
        if (s.side == 'B' && h >= blk.b_bottom - 0.3) in_b.push_back(&s);
    }
    REQUIRE(in_a.size() >= 2);
    REQUIRE(!in_b.empty());
    REQUIRE(gap_a != nullptr);

    InterfaceHopOptions o;
    o.species = "H";
    o.from = in_a.back()->site.name;
    o.to = in_b.front()->site.name;
    o.max_hop = 8.0;
    const auto h = interface_hop(iface, o);
    CHECK(h.initial.info["hop"]["from"] == o.from);
    CHECK(h.initial.info["hop"]["to"] == o.to);
    CHECK(iface.minimum_image(in_a.back()->site.frac, h.initial[h.moving_atom].frac).norm() < 1e-9);
    // The nearest copy of the named B site, by brute force.
    double nearest = 1e300;
    for (const auto& q : in_b.front()->site.equivalent) {
        const double hq = n.dot(iface.to_cartesian(q));
        if (hq >= blk.b_bottom - 0.3 && hq - plane <= 3.0)
            nearest = std::min(nearest, brute_distance(iface, in_a.back()->site.frac, q));
    }
    CHECK(h.distance == doctest::Approx(nearest).epsilon(1e-9));

    // Reverse: from inside B into A.
    InterfaceHopOptions r;
    r.reverse = true;
    r.species = "Au";
    const auto back = interface_hop(iface, r);
    CHECK(back.initial.info["hop"]["from_side"] == "B");
    CHECK(back.initial.info["hop"]["to_side"] == "A");
    CHECK(n.dot(back.initial.cartesian(back.moving_atom)) >= blk.b_bottom - 0.3);
    CHECK(n.dot(back.final.cartesian(back.moving_atom)) <= blk.a_top + 0.3);
    CHECK(back.distance >= 2.0);
    CHECK_THROWS_AS(check_interface_hop(back.initial, back.final, back.moving_atom), StructureError);
    InterfaceHopCheckOptions co;
    co.reverse = true;
    const auto rep = check_interface_hop(back.initial, back.final, back.moving_atom, co);
    CHECK(rep.initial_side == 'B');
    CHECK(rep.final_side == 'A');

    // Unknown names: InputError listing the admissible sites.
    InterfaceHopOptions bad;
    bad.from = "A99";
    const std::string msg = what_of([&] { interface_hop(iface, bad); });
    CHECK(msg.find("A99") != std::string::npos);
    for (const auto* s : in_a) CHECK(msg.find(s->site.name) != std::string::npos);
    CHECK(field_of([&] { interface_hop(iface, bad); }) == "from");
    bad.from.clear();
    bad.to = "B77";
    CHECK(field_of([&] { interface_hop(iface, bad); }) == "to");
    // A name of a gap site is refused, saying why.
    bad.to.clear();
    bad.from = gap_a->site.name;
    CHECK(what_of([&] { interface_hop(iface, bad); }).find("gap") != std::string::npos);
    CHECK(field_of([&] { interface_hop(iface, bad); }) == "from");
    // A B site cannot be the start of an A -> B hop.
    bad.from = in_b.front()->site.name;
    CHECK(what_of([&] { interface_hop(iface, bad); }).find("is on side B") != std::string::npos);

    // Too long: the message gives the shortest hop found.
    InterfaceHopOptions tight;
    tight.min_hop = 2.0;
    tight.max_hop = 2.01;
    const std::string too_long = what_of([&] { interface_hop(iface, tight); });
    CHECK(too_long.find("longer than max_hop") != std::string::npos);
    const auto best = interface_hop(iface);
    CHECK(too_long.find(fmt::format("{:.3f} Å", best.distance)) != std::string::npos);
    CHECK_THROWS_AS(interface_hop(iface, tight), StructureError);
    // No site inside a side within depth (naming the side), whichever side is the start.
    InterfaceHopOptions shallow;
    shallow.sites.depth = 0.6;
    shallow.reverse = true;
    CHECK(what_of([&] { interface_hop(iface, shallow); }).find("no Li site inside side B within 0.6 Å") !=
          std::string::npos);
    CHECK_THROWS_AS(interface_hop(iface, shallow), StructureError);
    // Bad options.
    InterfaceHopOptions opt;
    opt.species = "Xx";
    CHECK(field_of([&] { interface_hop(iface, opt); }) == "species");
    opt = {};
    opt.max_hop = 1.0;
    CHECK(field_of([&] { interface_hop(iface, opt); }) == "max_hop");
    opt = {};
    opt.min_hop = -1;
    CHECK(field_of([&] { interface_hop(iface, opt); }) == "min_hop");
    // Side tags are needed.
    auto untagged = iface;
    untagged[0].label.clear();
    CHECK_THROWS_AS(interface_hop(untagged), StructureError);
}

TEST_CASE("relaxed end points: one minimum, wrong side, and the plane of the relaxed blocks") {
    const auto iface = metal_interface("Al", "Cu", {1, 1, 1});
    const auto h = interface_hop(iface);
    const std::size_t m = h.moving_atom;
    const Vec n = normal_of(iface);

    // Relaxed "into one minimum": the final mobile atom 0.5 Å from the initial one.
    auto collapsed = h.initial;
    collapsed[m].frac = h.initial.to_fractional(h.initial.cartesian(m) + 0.5 * Vec(1, 1, 1).normalized());
    const std::string one = what_of([&] { check_interface_hop(h.initial, collapsed, m); });
    CHECK(one.find("relaxed into one minimum (mobile atom 0.50 Å apart") != std::string::npos);
    CHECK_THROWS_AS(check_interface_hop(h.initial, collapsed, m), StructureError);

    // The final mobile atom went back into A (1.5 Å below the initial position, still in A).
    auto back_in_a = h.final;
    back_in_a[m].frac = h.initial.to_fractional(h.initial.cartesian(m) - 1.5 * n);
    const std::string wrong = what_of([&] { check_interface_hop(h.initial, back_in_a, m); });
    CHECK(wrong.find("final mobile atom") != std::string::npos);
    CHECK(wrong.find("on side A") != std::string::npos);
    // And an initial mobile atom that sits in B.
    CHECK(what_of([&] { check_interface_hop(h.final, h.final, m); }).find("relaxed into one minimum") != std::string::npos);
    auto initial_in_b = h.initial;
    initial_in_b[m].frac = h.final.to_fractional(h.final.cartesian(m) + 1.5 * n);
    CHECK(what_of([&] { check_interface_hop(initial_in_b, h.final, m); }).find("initial mobile atom") != std::string::npos);

    // The plane comes from the structure at hand: move every atom of the final 0.8 Å along the
    // normal (a relaxation that shifted the blocks) and the heights from the plane stay.
    auto shifted = h.final;
    for (auto& a : shifted.atoms()) a.frac = shifted.to_fractional(shifted.to_cartesian(a.frac) + 0.8 * n);
    const auto r0 = check_interface_hop(h.initial, h.final, m);
    const auto r1 = check_interface_hop(h.initial, shifted, m);
    CHECK(r1.final_height == doctest::Approx(r0.final_height).epsilon(1e-9));
    CHECK(r1.final_plane == doctest::Approx(r0.final_plane + 0.8).epsilon(1e-9));

    // Mismatched end points.
    auto fewer = h.final;
    fewer.atoms().pop_back();
    CHECK_THROWS_AS(check_interface_hop(h.initial, fewer, m), StructureError);
    CHECK_THROWS_AS(check_interface_hop(h.initial, h.final, m + 1), StructureError);
}

TEST_CASE("fix_outer_layers: bottom planes of A and top planes of B, counted here plane by plane") {
    auto iface = metal_interface("Al", "Ni", {1, 0, 0}, false, 3);
    const Vec n = normal_of(iface);
    // Planes of each side from the heights (clusters 0.3 Å apart), independent of Atom::layer.
    auto planes_of = [&](const std::string& side) {
        std::vector<std::pair<double, std::size_t>> hs;
        for (std::size_t i = 0; i < iface.size(); ++i)
            if (iface[i].label == side) hs.push_back({n.dot(iface.cartesian(i)), i});
        std::sort(hs.begin(), hs.end());
        std::vector<std::vector<std::size_t>> planes;
        double last = -1e300;
        for (const auto& [h, i] : hs) {
            if (h - last > 0.3) planes.emplace_back();
            planes.back().push_back(i);
            last = h;
        }
        return planes;  // bottom first
    };
    const auto pa = planes_of("A"), pb = planes_of("B");
    REQUIRE(pa.size() >= 3);
    REQUIRE(pb.size() >= 3);
    for (int k = 1; k <= 2; ++k) {
        for (auto& a : iface.atoms()) a.fixed = true;  // earlier flags do not survive
        const std::size_t count = fix_outer_layers(iface, k);
        std::vector<bool> expect(iface.size(), false);
        std::size_t expected_count = 0;
        for (int p = 0; p < k; ++p) {
            for (auto i : pa[static_cast<std::size_t>(p)]) expect[i] = true, ++expected_count;
            for (auto i : pb[pb.size() - 1 - static_cast<std::size_t>(p)]) expect[i] = true, ++expected_count;
        }
        CHECK(count == expected_count);
        for (std::size_t i = 0; i < iface.size(); ++i) CHECK(iface[i].fixed == expect[i]);
        // Without Atom::layer the planes come from the heights: the same atoms.
        auto no_layers = iface;
        for (auto& a : no_layers.atoms()) {
            a.layer = -1;
            a.fixed = false;
        }
        CHECK(fix_outer_layers(no_layers, k) == expected_count);
        for (std::size_t i = 0; i < iface.size(); ++i) CHECK(no_layers[i].fixed == expect[i]);
    }
    // n = 0 frees the side atoms.
    CHECK(fix_outer_layers(iface, 0) == 0);
    for (const auto& a : iface.atoms()) CHECK(!a.fixed);
    // Too many planes, negative n: InputError naming the field, structure untouched.
    const int planes = static_cast<int>(std::min(pa.size(), pb.size()));
    CHECK(field_of([&] { fix_outer_layers(iface, planes); }) == "fix_outer_layers");
    CHECK(what_of([&] { fix_outer_layers(iface, planes); }).find("would fix all") != std::string::npos);
    CHECK(field_of([&] { fix_outer_layers(iface, -1); }) == "fix_outer_layers");
    for (const auto& a : iface.atoms()) CHECK(!a.fixed);
    // A mobile atom without side tag is left alone.
    auto with_li = interface_hop(iface).initial;
    with_li.atoms().back().fixed = false;
    fix_outer_layers(with_li, 1);
    CHECK(!with_li.atoms().back().fixed);

    // Fully periodic: no outer surface.
    auto periodic = metal_interface("Al", "Ni", {1, 0, 0}, true, 3);
    const std::string msg = what_of([&] { fix_outer_layers(periodic, 1); });
    CHECK(msg.find("periodic") != std::string::npos);
    CHECK(field_of([&] { fix_outer_layers(periodic, 1); }) == "fix_outer_layers");
    auto no_info = periodic;  // recognised from its two interface planes too
    no_info.info = nlohmann::json::object();
    CHECK(field_of([&] { fix_outer_layers(no_info, 2); }) == "fix_outer_layers");
    CHECK(fix_outer_layers(periodic, 0) == 0);
}

TEST_CASE("min_image_distance: the shortest lattice vector equals a numpy brute force on skewed cells") {
    std::vector<std::pair<std::string, Eigen::Matrix3d>> cells;
    cells.push_back({"hexagonal", lattice_from_parameters(3.2, 3.2, 5.1, 90, 90, 120)});
    cells.push_back({"triclinic", lattice_from_parameters(4.1, 5.3, 6.2, 71, 104, 117)});
    Eigen::Matrix3d fcc;
    fcc << 0, 2.025, 2.025, 2.025, 0, 2.025, 2.025, 2.025, 0;
    cells.push_back({"fcc primitive", fcc});
    Eigen::Matrix3d needle;  // a skewed basis of a simple lattice: its shortest vector is b - 2a
    needle << 3.0, 0, 0, 6.2, 0.9, 0, 1.1, 2.3, 4.7;
    cells.push_back({"needle basis", needle});
    Eigen::Matrix3d skew;  // c nearly a multiple of a + b
    skew << 2.8, 0.3, 0.1, -0.4, 3.1, 0.2, 5.05, 6.9, 1.3;
    cells.push_back({"skewed", skew});
    // Expected values without any library: fcc primitive a/sqrt2 with a = 4.05.
    CHECK(min_image_distance(Structure(fcc)) == doctest::Approx(4.05 / std::sqrt(2.0)).epsilon(1e-12));
    CHECK(min_image_distance(Structure(needle)) == doctest::Approx(Vec(0.2, 0.9, 0).norm()).epsilon(1e-12));

    if (!have_numpy()) {
        MESSAGE("python3-numpy not importable: skipping the numpy comparison");
        return;
    }
    const fs::path dir = testing::scratch("min_image_distance");
    nlohmann::json in = nlohmann::json::array();
    for (const auto& [name, L] : cells)
        in.push_back({{"name", name},
                      {"lattice", {{L(0, 0), L(0, 1), L(0, 2)}, {L(1, 0), L(1, 1), L(1, 2)}, {L(2, 0), L(2, 1), L(2, 2)}}}});
    std::ofstream(dir / "cells.json") << in.dump();
    std::ofstream(dir / "ref.py") << "import json, sys, itertools, numpy as np\n"
                                     "cells = json.load(open(sys.argv[1]))\n"
                                     "r = range(-6, 7)\n"
                                     "n = np.array([v for v in itertools.product(r, r, r) if any(v)], dtype=float)\n"
                                     "out = {}\n"
                                     "for c in cells:\n"
                                     "    L = np.array(c['lattice'])\n"
                                     "    out[c['name']] = {'d3': float(np.linalg.norm(n @ L, axis=1).min()),\n"
                                     "                      'd2': float(np.linalg.norm(n[n[:, 2] == 0] @ L, axis=1).min())}\n"
                                     "json.dump(out, open(sys.argv[2], 'w'))\n";
    const std::string cmd = fmt::format("/usr/bin/python3 {} {} {} 2>{}", (dir / "ref.py").string(),
                                        (dir / "cells.json").string(), (dir / "ref.json").string(),
                                        (dir / "ref.err").string());
    REQUIRE(std::system(cmd.c_str()) == 0);
    nlohmann::json ref;
    std::ifstream(dir / "ref.json") >> ref;
    for (const auto& [name, L] : cells) {
        CAPTURE(name);
        CHECK(min_image_distance(Structure(L)) == doctest::Approx(ref[name]["d3"].get<double>()).epsilon(1e-10));
        // A slab cell (c not periodic): only in-plane vectors count.
        CHECK(min_image_distance(Structure(L, {true, true, false})) ==
              doctest::Approx(ref[name]["d2"].get<double>()).epsilon(1e-10));
    }
    CHECK(std::isinf(min_image_distance(Structure(fcc, {false, false, false}))));
    Eigen::Matrix3d flat = fcc;
    flat.row(2) = flat.row(0) + flat.row(1);
    CHECK_THROWS_AS(min_image_distance(Structure(flat)), StructureError);
}

TEST_CASE("supercell_for_min_image_distance: the fewest atoms, by brute force over repeats 1..6") {
    // Independent shortest vector: brute force over -3..3 combinations of the supercell vectors
    // (enough for these moderately skewed cells, whose reduced bases are the cells themselves).
    auto brute = [](const Eigen::Matrix3d& L, std::array<int, 3> r) {
        double best = 1e300;
        for (int i = -3; i <= 3; ++i)
            for (int j = -3; j <= 3; ++j)
                for (int k = -3; k <= 3; ++k)
                    if (i || j || k)
                        best = std::min(best, (i * r[0] * L.row(0) + j * r[1] * L.row(1) + k * r[2] * L.row(2)).norm());
        return best;
    };
    Eigen::Matrix3d fcc;
    fcc << 0, 2.025, 2.025, 2.025, 0, 2.025, 2.025, 2.025, 0;
    const auto li2s = build_bulk("Li2S");
    const std::vector<std::pair<Eigen::Matrix3d, double>> cases{
        {lattice_from_parameters(3.2, 3.2, 5.1, 90, 90, 120), 9.0},
        {lattice_from_parameters(4.1, 5.3, 6.2, 80, 95, 100), 12.0},
        {fcc, 10.0},
        {li2s.lattice(), 10.0},
    };
    for (const auto& [L, d] : cases) {
        CAPTURE(d);
        Structure s(L);
        s.add_atom("Li", Vec::Zero());
        const auto got = supercell_for_min_image_distance(s, d);
        CAPTURE(got[0]);
        CAPTURE(got[1]);
        CAPTURE(got[2]);
        CHECK(brute(L, got) >= d);
        int fewest = 1 << 30;
        for (int a = 1; a <= 6; ++a)
            for (int b = 1; b <= 6; ++b)
                for (int c = 1; c <= 6; ++c)
                    if (brute(L, {a, b, c}) >= d) fewest = std::min(fewest, a * b * c);
        REQUIRE(fewest < (1 << 30));
        CHECK(got[0] * got[1] * got[2] == fewest);
        // Among the smallest supercells none is more isotropic.
        auto ratio = [&](std::array<int, 3> r) {
            double lo = 1e300, hi = 0;
            for (int k = 0; k < 3; ++k) {
                lo = std::min(lo, r[static_cast<std::size_t>(k)] * L.row(k).norm());
                hi = std::max(hi, r[static_cast<std::size_t>(k)] * L.row(k).norm());
            }
            return hi / lo;
        };
        for (int a = 1; a <= 6; ++a)
            for (int b = 1; b <= 6; ++b)
                for (int c = 1; c <= 6; ++c)
                    if (a * b * c == fewest && brute(L, {a, b, c}) >= d) CHECK(ratio(got) <= ratio({a, b, c}) + 1e-9);
    }
    // The repeated cell reaches the distance (repeat_cell and min_image_distance agree).
    const auto n = supercell_for_min_image_distance(li2s, 10.0);
    CHECK(min_image_distance(repeat_cell(li2s, n)) >= 10.0);
    CHECK(n == std::array<int, 3>{2, 2, 2});  // a = 5.7 Å cubic: 11.4 Å
    // A slab cell is never repeated along its non-periodic c.
    Structure slab(lattice_from_parameters(2.9, 2.9, 20, 90, 90, 120), {true, true, false});
    CHECK(supercell_for_min_image_distance(slab, 8.0)[2] == 1);
    // Bad distances.
    for (double bad : {0.0, -3.0, std::nan(""), std::numeric_limits<double>::infinity(), 500.0})
        CHECK(field_of([&] { supercell_for_min_image_distance(li2s, bad); }) == "min_image_distance");
}
