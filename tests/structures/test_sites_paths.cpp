// Li sites and NEB paths: interstitial sites of fcc Al and antifluorite Li2S against the
// textbook Wyckoff sites and against Qhull's Voronoi tessellation (scipy, run from the test);
// vacancy sites from spglib's equivalent atoms; adsorption sites on both faces; sites on each
// side of an interface; hop end points; linear and IDPP paths against ASE 3.22 (python3-ase, run
// from the test), minimum-image crossing, fixed atoms and the closest-pair check.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "common/errors.hpp"
#include "structures/interface_hops.hpp"
#include "structures/interstitials.hpp"
#include "structures/io.hpp"
#include "structures/neb_path.hpp"
#include "structures/prototypes.hpp"
#include "structures/sites.hpp"
#include "structures/slab.hpp"
#include "test_paths.hpp"

using namespace interphase;
using namespace interphase::structures;
namespace fs = std::filesystem;
using Vec = Eigen::Vector3d;

namespace {

bool have_python_module(const std::string& module) {
    return std::system(("/usr/bin/python3 -c 'import " + module + "' 2>/dev/null").c_str()) == 0;
}

/// Runs a Python script (the reference implementation) that writes JSON to the path it gets as
/// its first argument, and returns that JSON.
nlohmann::json run_python(const fs::path& dir, const std::string& name, const std::string& script,
                          const std::string& args = "") {
    const fs::path py = dir / (name + ".py"), out = dir / (name + ".json");
    std::ofstream(py) << script;
    const std::string cmd = "/usr/bin/python3 " + py.string() + " " + out.string() + " " + args + " 2>" +
                            (dir / (name + ".err")).string();
    REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, "python reference failed: see " << (dir / (name + ".err")).string());
    nlohmann::json j;
    std::ifstream(out) >> j;
    return j;
}

double lattice_a(const Structure& s) { return s.lattice().row(0).norm(); }

std::map<std::string, int> multiplicity_by_wyckoff(const std::vector<InterstitialSite>& sites) {
    std::map<std::string, int> m;
    for (const auto& s : sites) m[s.wyckoff] = s.multiplicity;
    return m;
}

/// Our Voronoi vertices deduplicated (a vertex shared by k cells is found k times): their radii,
/// sorted.
std::vector<double> vertex_radii(const Structure& s, double max_radius) {
    std::vector<VoronoiPoint> unique;
    for (const auto& p : voronoi_points(s, max_radius)) {
        bool dup = false;
        for (const auto& q : unique)
            if (s.minimum_image(p.frac, q.frac).norm() < 1e-4) dup = true;
        if (!dup) unique.push_back(p);
    }
    std::vector<double> r;
    for (const auto& p : unique) r.push_back(p.radius);
    std::sort(r.begin(), r.end());
    return r;
}

/// The same from scipy.spatial.Voronoi (Qhull) on a 3x3x3 supercell: vertices inside the central
/// cell, radius = distance to the nearest atom.
std::vector<double> scipy_vertex_radii(const fs::path& dir, const std::string& name, const Structure& s,
                                           double max_radius) {
    write_structure(dir / (name + ".xyz"), s);
    const auto j = run_python(dir, name + "_voronoi",
        "import sys, json, numpy as np\n"
        "from ase.io import read\nfrom scipy.spatial import Voronoi\n"
        "at = read('" + (dir / (name + ".xyz")).string() + "')\n"
        "sc = at.repeat(3); shift = at.cell.sum(0)\n"
        "vor = Voronoi(sc.positions)\n"
        "out = []\n"
        "for v in vor.vertices:\n"
        "    f0 = np.linalg.solve(at.cell.T, v - shift)\n"
        "    # Vertices of the central cell (with a margin, wrapped); far from the supercell's surface.\n"
        "    if np.all(f0 > -0.1) and np.all(f0 < 1.1):\n"
        "        d = np.linalg.norm(sc.positions - v, axis=1).min()\n"
        "        if d <= " + std::to_string(max_radius) + ": out.append((f0 % 1.0, float(d)))\n"
        "# One per point: a vertex on a cell face appears twice, and Qhull splits degenerate vertices\n"
        "# (cubic symmetry) into nearby copies.\n"
        "uniq = []\n"
        "for f, d in out:\n"
        "    if not any(np.linalg.norm(at.cell.T @ ((f - g + 0.5) % 1 - 0.5)) < 1e-4 for g, _ in uniq):\n"
        "        uniq.append((f, d))\n"
        "json.dump([d for _, d in uniq], open(sys.argv[1], 'w'))\n");
    std::vector<double> r;
    for (const auto& d : j) r.push_back(d.get<double>());
    std::sort(r.begin(), r.end());
    return r;
}

}  // namespace

TEST_CASE("fcc Al: octahedral 4b and tetrahedral 8c interstitial sites") {
    const auto al = build_bulk("Al");
    const double a = lattice_a(al);
    const auto sites = find_interstitial_sites(al);
    REQUIRE(sites.size() == 2);
    // Largest hole first: the octahedral site, a/2 from six Al; then the tetrahedral one, a√3/4 from four.
    CHECK(sites[0].polyhedron == "octahedral");
    CHECK(sites[0].multiplicity == 4);
    CHECK(sites[0].wyckoff == "b");
    CHECK(sites[0].coordination == 6);
    CHECK(sites[0].shell == "Al6");
    CHECK(sites[0].radius == doctest::Approx(a / 2).epsilon(1e-9));
    CHECK(sites[1].polyhedron == "tetrahedral");
    CHECK(sites[1].multiplicity == 8);
    CHECK(sites[1].wyckoff == "c");
    CHECK(sites[1].coordination == 4);
    CHECK(sites[1].radius == doctest::Approx(a * std::sqrt(3.0) / 4).epsilon(1e-9));
    CHECK(sites[0].equivalent.size() == 4);
    CHECK(sites[1].equivalent.size() == 8);
    // The octahedral copies are at (1/2,1/2,1/2) and the edge centres (1/2,0,0)...
    std::set<std::string> oct;
    for (const auto& f : sites[0].equivalent) oct.insert(fmt::format("{:.3f} {:.3f} {:.3f}", f[0], f[1], f[2]));
    CHECK(oct == std::set<std::string>{"0.500 0.500 0.500", "0.500 0.000 0.000", "0.000 0.500 0.000", "0.000 0.000 0.500"});

    // The primitive cell (1 atom) holds one octahedral and two tetrahedral sites.
    const auto prim_sites = find_interstitial_sites(primitive_cell(al));
    REQUIRE(prim_sites.size() == 2);
    CHECK(prim_sites[0].multiplicity == 1);
    CHECK(prim_sites[1].multiplicity == 2);
    CHECK(multiplicity_by_wyckoff(prim_sites) == std::map<std::string, int>{{"b", 1}, {"c", 2}});
}

TEST_CASE("Li2S antifluorite: the empty octahedral 4b site is the most open interstitial site") {
    const auto li2s = build_bulk("Li2S");
    const double a = lattice_a(li2s);
    const auto sites = find_interstitial_sites(li2s);
    REQUIRE(!sites.empty());
    const auto& b4 = sites.front();
    CHECK(b4.wyckoff == "b");
    CHECK(b4.multiplicity == 4);
    // The centre of an empty Li8 cube: eight Li at a√3/4, the six S of the octahedron at a/2 next.
    CHECK(b4.radius == doctest::Approx(a * std::sqrt(3.0) / 4).epsilon(1e-9));
    CHECK(b4.shell == "Li8");
    CHECK(b4.polyhedron == "cubic");
    CHECK((b4.frac - Vec(0, 0, 0.5)).norm() < 1e-6);  // the orbit's lexicographically first copy
    bool body_centre = false;
    for (const auto& f : b4.equivalent) body_centre |= (f - Vec(0.5, 0.5, 0.5)).norm() < 1e-6;
    CHECK(body_centre);
    // The other Voronoi vertices (24e, (x,0,0) with x = 3/8 between S and the empty cube) are
    // tighter; all sites together tile the cell's vertices.
    for (std::size_t k = 1; k < sites.size(); ++k) CHECK(sites[k].radius < b4.radius);
    // With a min_distance above the 24e radius only 4b remains.
    InterstitialSearch strict;
    strict.min_distance = 2.3;
    const auto only = find_interstitial_sites(li2s, strict);
    REQUIRE(only.size() == 1);
    CHECK(only[0].wyckoff == "b");
}

TEST_CASE("Voronoi vertices agree with Qhull (scipy.spatial.Voronoi) on Al, Li2S, bcc Li, LiAl and Li3P") {
    if (!have_python_module("scipy.spatial") || !have_python_module("ase")) {
        MESSAGE("python3-scipy/ase not importable: skipping the Qhull comparison");
        return;
    }
    const auto dir = testing::scratch("voronoi");
    for (const std::string phase : {"Al", "Li2S", "Li", "LiAl", "Li3P"}) {
        CAPTURE(phase);
        const auto s = build_bulk(phase);
        const auto ours = vertex_radii(s, 4.0);
        const auto ref = scipy_vertex_radii(dir, phase, s, 4.0);
        CAPTURE(fmt::format("{:.4f}", fmt::join(ours, " ")));
        CAPTURE(fmt::format("{:.4f}", fmt::join(ref, " ")));
        REQUIRE(ours.size() == ref.size());
        CHECK(!ours.empty());
        // Same vertices, same empty-sphere radii (Qhull's vertices carry ~1e-9 Å of round-off).
        for (std::size_t k = 0; k < ours.size(); ++k) CHECK(ours[k] == doctest::Approx(ref[k]).epsilon(1e-7));
    }
}

TEST_CASE("bcc Li: octahedral 6b sites are Voronoi face centres, tetrahedral 12d sites vertices") {
    const auto li = build_bulk("Li");
    const double a = lattice_a(li);
    InterstitialSearch search;
    search.min_distance = 1.6;  // drops the face centres between nearest neighbours (a√3/4 = 1.49 Å)
    const auto vertices_only = find_interstitial_sites(li, search);
    REQUIRE(vertices_only.size() == 1);
    CHECK(vertices_only[0].wyckoff == "d");
    CHECK(vertices_only[0].multiplicity == 12);
    CHECK(vertices_only[0].radius == doctest::Approx(a * std::sqrt(5.0) / 4).epsilon(1e-9));
    CHECK(vertices_only[0].polyhedron == "tetrahedral");  // distorted: 101.5° and 126.9° angles
    search.face_centres = true;
    const auto with_faces = find_interstitial_sites(li, search);
    REQUIRE(with_faces.size() == 2);
    CHECK(with_faces[0].wyckoff == "d");
    CHECK(with_faces[1].wyckoff == "b");
    CHECK(with_faces[1].multiplicity == 6);
    CHECK(with_faces[1].face_centre);
    CHECK(with_faces[1].radius == doctest::Approx(a / 2).epsilon(1e-9));
    CHECK(with_faces[1].coordination == 2);  // a distorted octahedron: 2 Li at a/2, 4 at a/√2
}

TEST_CASE("vacancy sites: one Li in Li2S (8c), two in Li3P (2b and 4f)") {
    const auto li2s = find_vacancy_sites(build_bulk("Li2S"));
    REQUIRE(li2s.size() == 1);
    CHECK(li2s[0].multiplicity == 8);
    CHECK(li2s[0].wyckoff == "c");
    CHECK(li2s[0].equivalent_atoms.size() == 8);
    const auto li3p = find_vacancy_sites(build_bulk("Li3P"));
    REQUIRE(li3p.size() == 2);
    std::map<std::string, int> m;
    for (const auto& v : li3p) m[v.wyckoff] = v.multiplicity;
    CHECK(m == std::map<std::string, int>{{"b", 2}, {"f", 4}});
    CHECK(find_vacancy_sites(build_bulk("Li2S"), "S")[0].wyckoff == "a");
    CHECK_THROWS_AS(find_vacancy_sites(build_bulk("Al")), InputError);
}

TEST_CASE("adsorption sites on the bottom face mirror the top face of a symmetric slab") {
    SlabSpec spec;
    spec.layers = 3;
    spec.supercell = {2, 2};
    const auto slab = build_slab(build_bulk("Al"), spec);
    SiteSearch top_search, bottom_search;
    bottom_search.face = Face::Bottom;
    const auto top = find_adsorption_sites(slab, top_search);
    const auto bottom = find_adsorption_sites(slab, bottom_search);
    REQUIRE(top.size() == bottom.size());
    double zmin = 1e9, zmax = -1e9;
    for (std::size_t i = 0; i < slab.size(); ++i) {
        zmin = std::min(zmin, slab.cartesian(i)[2]);
        zmax = std::max(zmax, slab.cartesian(i)[2]);
    }
    for (std::size_t k = 0; k < top.size(); ++k) {
        CAPTURE(top[k].name);
        CHECK(top[k].name == bottom[k].name);
        CHECK(top[k].multiplicity == bottom[k].multiplicity);
        CHECK(bottom[k].face == Face::Bottom);
        CHECK(bottom[k].position[2] == doctest::Approx(zmin));
        CHECK(top[k].position[2] == doctest::Approx(zmax));
        CHECK(static_cast<int>(bottom[k].equivalent_positions.size()) == bottom[k].multiplicity);
    }
    // fcc hollow on the bottom: no atom of the second plane from the bottom above it.
    const auto& fcc = select_site(bottom, "fcc_hollow", "test");
    const auto li = add_adsorbate(slab, fcc, "Li");
    const auto li_pos = li.cartesian(li.size() - 1);
    CHECK(li_pos[2] < zmin - 1.0);
    int neighbours = 0;
    for (std::size_t i = 0; i + 1 < li.size(); ++i)
        if (std::abs(li.distance(li.size() - 1, i) - 2.49) < 1e-6) ++neighbours;
    CHECK(neighbours == 3);
    for (std::size_t i = 0; i + 1 < li.size(); ++i)
        if (slab[i].layer == 1) {
            Vec d = li.minimum_image(li[i].frac, li[li.size() - 1].frac);
            CHECK(std::hypot(d[0], d[1]) > 1.0);
        }
    CHECK(parse_face("Bottom", "test") == Face::Bottom);
    CHECK_THROWS_AS(parse_face("side", "test"), InputError);
}

TEST_CASE("Al(100): the four-fold hollow, bridge and top sites") {
    SlabSpec spec;
    spec.miller = {1, 0, 0};
    spec.layers = 3;
    spec.supercell = {2, 2};
    const auto slab = build_slab(build_bulk("Al"), spec);
    const auto sites = find_adsorption_sites(slab);
    std::map<std::string, int> mult;
    for (const auto& s : sites) mult[s.name] = s.multiplicity;
    CHECK(mult == std::map<std::string, int>{{"4fold_hollow", 4}, {"bridge", 8}, {"top", 4}});
    // The adatom sits at the covalent bond length from four Al, each a/2 away laterally.
    const auto li = add_adsorbate(slab, sites.front(), "Li");
    int neighbours = 0;
    for (std::size_t i = 0; i + 1 < li.size(); ++i)
        if (std::abs(li.distance(li.size() - 1, i) - 2.49) < 1e-6) ++neighbours;
    CHECK(neighbours == 4);
}

namespace {

/// A fake interface: two blocks of fcc Al (two conventional cells each along c) tagged A and B,
/// separated by `gap` Å more than the bulk plane spacing; `vacuum` Å added above B (0 = fully
/// periodic, two A|B planes per cell).
Structure al_al_interface(double gap, double vacuum) {
    const auto al = build_bulk("Al");
    const double a = lattice_a(al);
    const double c = 4 * a + 2 * gap + vacuum;
    Eigen::Matrix3d L = Eigen::Matrix3d::Zero();
    L(0, 0) = a;
    L(1, 1) = a;
    L(2, 2) = c;
    Structure s(L);
    for (int side = 0; side < 2; ++side)
        for (int cell = 0; cell < 2; ++cell)
            for (const auto& atom : al.atoms()) {
                const double z = (atom.frac[2] + cell) * a + side * (2 * a + gap) + 0.25 * a;
                Atom& x = s.add_atom_cartesian("Al", Vec(atom.frac[0] * a, atom.frac[1] * a, z));
                x.label = side == 0 ? "A" : "B:Al";
            }
    s.wrap();
    return s;
}

/// Cartesian positions of every image as ASE makes them from the same end points (fixed atoms
/// become FixAtoms): NEB.interpolate(method, mic=True), or with fmax > 0 the linear path followed
/// by idpp_interpolate(fmax, steps, mic=True).
std::vector<std::vector<Vec>> ase_path(const fs::path& dir, const std::string& name, const Structure& initial,
                                       const Structure& final, int images, const std::string& method,
                                       double fmax = -1, int steps = 100) {
    write_structure(dir / (name + "_ini.xyz"), initial);
    write_structure(dir / (name + "_fin.xyz"), final);
    const auto j = run_python(dir, name,
        "import sys, json\n"
        "from ase.io import read\nfrom ase.neb import NEB, idpp_interpolate\nfrom ase.constraints import FixAtoms\n"
        "ini, fin = read(sys.argv[2]), read(sys.argv[3])\n"
        "for a in (ini, fin):\n"
        "    if 'fixed' in a.arrays: a.set_constraint(FixAtoms(mask=a.arrays['fixed']))\n"
        "images = [ini] + [ini.copy() for _ in range(int(sys.argv[4]))] + [fin]\n"
        "neb = NEB(images)\n"
        "method, fmax, steps = sys.argv[5], float(sys.argv[6]), int(sys.argv[7])\n"
        "if method == 'idpp' and fmax > 0:\n"
        "    neb.interpolate(mic=True)\n"
        "    idpp_interpolate(neb, traj=None, log=None, fmax=fmax, steps=steps, mic=True)\n"
        "else:\n"
        "    neb.interpolate(method=method, mic=True)\n"
        "json.dump([im.positions.tolist() for im in images], open(sys.argv[1], 'w'))\n",
        (dir / (name + "_ini.xyz")).string() + " " + (dir / (name + "_fin.xyz")).string() + " " +
            std::to_string(images) + " " + method + " " + std::to_string(fmax) + " " + std::to_string(steps));
    std::vector<std::vector<Vec>> out;
    for (const auto& im : j) {
        out.emplace_back();
        for (const auto& p : im) out.back().emplace_back(p[0].get<double>(), p[1].get<double>(), p[2].get<double>());
    }
    return out;
}

/// Displaces every free atom except the moving one by up to `amplitude` Å (a fixed pseudo-random
/// sequence), identically in both end points: relaxed end points are never exactly symmetric,
/// and exact symmetry puts pairs at exactly half a cell, where the minimum image is a tie that
/// ASE and we may break differently (see docs/sites-and-paths.md).
void rattle(HopEndpoints& h, double amplitude) {
    unsigned seed = 2024;
    auto next = [&] {
        seed = seed * 1103515245u + 12345u;
        return ((seed >> 8) % 20001) / 10000.0 - 1.0;
    };
    for (std::size_t i = 0; i < h.initial.size(); ++i) {
        const Vec d(next() * amplitude, next() * amplitude, next() * amplitude);
        if (i == h.moving_atom || h.initial[i].fixed) continue;
        h.initial[i].frac = h.initial.to_fractional(h.initial.cartesian(i) + d);
        h.final[i].frac = h.final.to_fractional(h.final.cartesian(i) + d);
    }
}

/// Largest distance (Å) between our images and ASE's, atom by atom (both unwrapped from the
/// same start, so no minimum image here).
double max_deviation(const Path& ours, const std::vector<std::vector<Vec>>& ref) {
    REQUIRE(ours.images.size() == ref.size());
    double m = 0;
    for (std::size_t k = 0; k < ref.size(); ++k) {
        REQUIRE(ours.images[k].size() == ref[k].size());
        for (std::size_t a = 0; a < ref[k].size(); ++a) m = std::max(m, (ours.images[k].cartesian(a) - ref[k][a]).norm());
    }
    return m;
}

/// Largest distance between two paths' intermediate images.
double path_difference(const Path& p, const Path& q) {
    double m = 0;
    for (std::size_t k = 0; k < p.images.size(); ++k)
        for (std::size_t a = 0; a < p.images[k].size(); ++a)
            m = std::max(m, (p.images[k].cartesian(a) - q.images[k].cartesian(a)).norm());
    return m;
}

Structure al100_slab(int n) {
    SlabSpec spec;
    spec.miller = {1, 0, 0};
    spec.layers = 3;
    spec.supercell = {n, n};
    spec.vacuum = 10;
    spec.fix_bottom_layers = 1;
    return build_slab(build_bulk("Al"), spec);
}

}  // namespace

TEST_CASE("interface sites: each side of an A|B stack, reduced by side-preserving symmetry") {
    const double gap = 0.6;
    const auto iface = al_al_interface(gap, 0.0);
    const auto planes = interface_planes(iface);
    REQUIRE(planes.size() == 2);  // periodic along c: A|B and B|A
    CHECK(planes[0].below == 'A');
    CHECK(planes[1].below == 'B');
    const double a = lattice_a(build_bulk("Al"));
    CHECK(planes[0].gap == doctest::Approx(a / 2 + gap));
    const auto sites = find_interface_sites(iface);
    std::map<char, std::vector<const InterfaceSite*>> by_side;
    for (const auto& s : sites) by_side[s.side].push_back(&s);
    REQUIRE(by_side['A'].size() > 0);
    // The two sides are mirror images (the same metal), so their site lists match; no operation
    // maps A onto B, because only side-preserving ones are used.
    REQUIRE(by_side['A'].size() == by_side['B'].size());
    for (std::size_t k = 0; k < by_side['A'].size(); ++k) {
        const auto& sa = *by_side['A'][k];
        const auto& sb = *by_side['B'][k];
        CHECK(sa.site.radius == doctest::Approx(sb.site.radius));
        CHECK(sa.height == doctest::Approx(-sb.height));
        CHECK(sa.site.multiplicity == sb.site.multiplicity);
        CHECK(sa.height < 0);
        CHECK(std::abs(sa.height) <= 3.0 + 1e-9);
    }
    // The middle of the gap holds sites on the plane; every site is within depth of its plane.
    CHECK(by_side['I'].size() > 0);
    for (const auto& s : sites) CHECK(std::abs(s.height) <= 3.0 + 1e-9);
    CHECK(sites.front().site.name == "A1");

    // With vacuum above B only one plane is an interface.
    const auto with_vacuum = al_al_interface(gap, 15.0);
    CHECK(interface_planes(with_vacuum).size() == 1);

    // Missing side tags are an error naming the atom.
    auto untagged = iface;
    untagged[3].label = "";
    CHECK_THROWS_WITH_AS(interface_planes(untagged), doctest::Contains("atom 4 (Al) has no side tag"), StructureError);
    CHECK(interface_side(Atom{"Al", Vec::Zero(), false, -1, "Al"}) == 0);
    CHECK(interface_side(Atom{"Li", Vec::Zero(), false, -1, "B_2"}) == 'B');
}

TEST_CASE("hop end points: vacancy and interstitial hops keep the atom order and the hop length") {
    const auto li2s = build_bulk("Li2S");
    const double a = lattice_a(li2s);
    // In the conventional cell the nearest Li-Li hop (a/2) is half the cell: ambiguous.
    CHECK_THROWS_WITH_AS(vacancy_hops(li2s), doctest::Contains("ambiguous"), StructureError);
    const auto sc = repeat_cell(li2s, {2, 2, 2});
    REQUIRE(sc.size() == 96);
    const auto hops = vacancy_hops(sc);
    REQUIRE(hops.size() == 1);  // the six Li neighbours of an 8c Li are equivalent
    const auto& h = hops[0];
    CHECK(h.distance == doctest::Approx(a / 2));
    CHECK(h.initial.size() == 95);
    CHECK(h.final.size() == 95);
    for (std::size_t i = 0; i < 95; ++i) {
        CHECK(h.initial[i].species == h.final[i].species);
        if (i != h.moving_atom) CHECK((h.initial[i].frac - h.final[i].frac).norm() == 0.0);
    }
    // The moving Li ends where the removed Li was.
    const std::size_t removed = h.initial.info["hop"]["vacancy_of_atom"].get<std::size_t>();
    CHECK(sc.minimum_image(sc[removed].frac, h.final[h.moving_atom].frac).norm() < 1e-9);
    CHECK(h.initial.distance(h.moving_atom, h.moving_atom) == 0.0);
    CHECK(h.initial.minimum_image(h.initial[h.moving_atom].frac, h.final[h.moving_atom].frac).norm() ==
          doctest::Approx(a / 2));

    // Interstitial hops in fcc Al: octahedral to octahedral (a/√2), tetrahedral to tetrahedral (a/2).
    const auto al = repeat_cell(build_bulk("Al"), {2, 2, 2});
    const auto ih = interstitial_hops(al);
    REQUIRE(ih.size() == 2);
    const double aal = lattice_a(build_bulk("Al"));
    CHECK(ih[0].distance == doctest::Approx(aal / std::sqrt(2.0)));
    CHECK(ih[1].distance == doctest::Approx(aal / 2));
    CHECK(ih[0].initial.size() == 33);
    CHECK(ih[0].moving_atom == 32);
    CHECK(ih[0].initial[32].species == "Li");
    CHECK(ih[0].initial[32].label == "mobile");
    CHECK_THROWS_AS(interstitial_hops(build_bulk("Al")), StructureError);  // tetrahedral hop = half the cell

    // Across the interface, from a site inside A to one inside B (the full checks are in
    // test_interface_hops.cpp). 2x2 in plane: in the 1x1 cell the hop is half a cell sideways.
    CHECK_THROWS_WITH_AS(interface_hop(al_al_interface(0.6, 15.0)), doctest::Contains("ambiguous"), StructureError);
    const auto iface = repeat_cell(al_al_interface(0.6, 15.0), {2, 2, 1});
    const auto ifh = interface_hop(iface);
    CHECK(ifh.kind == "interface");
    const auto sites = find_interface_sites(iface);
    double ha = 0, hb = 0;
    for (const auto& s : sites) {
        if (s.site.name == ifh.initial.info["hop"]["from"]) ha = s.height;
        if (s.site.name == ifh.initial.info["hop"]["to"]) hb = s.height;
    }
    CHECK(ha < 0);
    CHECK(hb > 0);
    CHECK(ifh.distance >= hb - ha - 1e-9);
    CHECK(ifh.distance >= 2.0);
    InterfaceHopOptions unknown;
    unknown.from = "A99";
    CHECK_THROWS_AS(interface_hop(iface, unknown), InputError);
}

TEST_CASE("linear path: minimum-image crossing of the cell boundary, ambiguity and fixed atoms") {
    Eigen::Matrix3d L = Eigen::Matrix3d::Identity() * 6.0;
    Structure s(L);
    s.add_atom("S", Vec(0.5, 0.5, 0.5));
    s.add_atom("Li", Vec(0.95, 0.2, 0.2));
    Structure f = s;
    f[1].frac = Vec(0.05, 0.2, 0.2);  // 0.6 Å away through the boundary, 5.4 Å the other way
    PathOptions o;
    o.images = 3;
    const auto p = interpolate_path(s, f, o);
    REQUIRE(p.images.size() == 5);
    for (std::size_t k = 0; k < 5; ++k) {
        CAPTURE(k);
        // Interior images continue through the boundary (unwrapped, as ASE's interpolate(mic=True));
        // the end points stay as given.
        if (k < 4) CHECK(p.images[k].cartesian(1)[0] == doctest::Approx(5.7 + 0.15 * static_cast<double>(k)));
        CHECK(p.images[k].info["neb_image"] == k);
        CHECK(p.images[k].cartesian(0)[0] == doctest::Approx(3.0));
    }
    CHECK(p.images[4].cartesian(1)[0] == doctest::Approx(0.3));
    // Without the minimum-image convention the Li crosses the whole cell, as written.
    o.mic = false;
    const auto long_way = interpolate_path(s, f, o);
    CHECK(long_way.images[2].cartesian(1)[0] == doctest::Approx(3.0));
    // Halfway to the next image the direction is ambiguous.
    o.mic = true;
    Structure half = s;
    half[1].frac = Vec(0.45, 0.2, 0.2);
    CHECK_THROWS_WITH_AS(interpolate_path(s, half, o), doctest::Contains("atom 2 (Li) moves 3.000 Å"), StructureError);
    // Fixed atoms must not move; mismatched end points name the atom.
    Structure moved = f;
    moved[0].fixed = true;
    moved[0].frac[0] += 0.1;
    CHECK_THROWS_WITH_AS(interpolate_path(s, moved, o), doctest::Contains("atom 1 (S) is fixed"), StructureError);
    Structure other = f;
    other[0].species = "Cl";
    CHECK_THROWS_WITH_AS(interpolate_path(s, other, o), doctest::Contains("atom 1 is S"), StructureError);
    Structure fewer = f;
    fewer.atoms().pop_back();
    CHECK_THROWS_AS(interpolate_path(s, fewer, o), StructureError);
    CHECK_THROWS_AS(interpolate_path(s, s, o), StructureError);
    o.images = 0;
    CHECK_THROWS_AS(interpolate_path(s, f, o), InputError);
    CHECK_THROWS_AS(parse_path_method("spline", "test"), InputError);
}

TEST_CASE("IDPP and linear paths equal ASE's: Li vacancy hop in Li2S, Li adatom hop on Al(100)") {
    if (!have_python_module("ase.neb")) {
        MESSAGE("python3-ase not importable: skipping the ASE comparison");
        return;
    }
    const auto dir = testing::scratch("idpp");
    struct Case {
        std::string name;
        HopEndpoints hop;
        double fmax;  // < 0: ASE's default path (NEB.interpolate('idpp')); else a tighter IDPP band
        int steps;
    };
    std::vector<Case> cases;
    cases.push_back({"li2s_vacancy", vacancy_hops(repeat_cell(build_bulk("Li2S"), {2, 2, 2}))[0], 0.01, 300});
    const auto slab = al100_slab(4);
    cases.push_back({"al100_adatom", adsorbate_hop(slab, find_adsorption_sites(slab).front(), "Li"), -1, 100});
    for (auto& c : cases) {
        CAPTURE(c.name);
        rattle(c.hop, 0.03);
        PathOptions o;
        o.images = 5;
        const auto linear = interpolate_path(c.hop.initial, c.hop.final, o);
        o.method = PathMethod::Idpp;
        if (c.fmax > 0) o.idpp.fmax = c.fmax;
        o.idpp.max_steps = c.steps;
        const auto idpp = interpolate_path(c.hop.initial, c.hop.final, o);
        const auto ase_linear = ase_path(dir, c.name + "_linear", c.hop.initial, c.hop.final, 5, "linear");
        const auto ase_idpp = ase_path(dir, c.name + "_idpp", c.hop.initial, c.hop.final, 5, "idpp", c.fmax, c.steps);
        // Same algorithm and defaults as ASE (NEB 'aseneb', k = 0.1, MDMin dt = 0.2, fmax 0.1,
        // 100 steps): the only differences are floating-point summation order, ~1e-15 Å per
        // force evaluation, which a few hundred MDMin steps amplify to ~1e-12 Å. 1e-6 Å is far
        // below anything that matters for a starting path (DFT relaxes to ~1e-3 Å) and far above
        // round-off, yet an algorithmic slip (tangent, spring sign, one step more or less) moves
        // atoms by 1e-4..1e-1 Å.
        CHECK(max_deviation(linear, ase_linear) < 1e-9);
        CHECK(max_deviation(idpp, ase_idpp) < 1e-6);
        MESSAGE(c.name << ": IDPP " << idpp.idpp_steps << " steps, converged " << idpp.idpp_converged
                       << ", max deviation from ASE " << max_deviation(idpp, ase_idpp) << " Å, IDPP moved atoms up to "
                       << path_difference(idpp, linear) << " Å from the linear path");
        // The comparison has teeth: IDPP moves atoms measurably away from the straight line.
        CHECK(path_difference(idpp, linear) > 1e-2);
        // Fixed atoms stay put in every image.
        for (const auto& im : idpp.images)
            for (std::size_t i = 0; i < im.size(); ++i)
                if (c.hop.initial[i].fixed) CHECK((im.cartesian(i) - c.hop.initial.cartesian(i)).norm() < 1e-12);
    }
}

TEST_CASE("IDPP keeps a Li adatom off an Al atom where the linear path runs through it") {
    // A diagonal hop between next-nearest four-fold hollows on Al(100) passes straight over the
    // Al atom the two hollows share: linearly interpolated, Li comes within ~1.45 Å of it (Li-Al
    // bonds are ~2.5 Å). IDPP keeps the interpolated Li-Al distances and lifts Li over the atom.
    const auto slab = al100_slab(4);
    const auto sites = find_adsorption_sites(slab);
    const auto& hollow = sites.front();
    REQUIRE(hollow.name == "4fold_hollow");
    // The equivalent hollow one surface diagonal away.
    const double d_surf = slab.lattice().row(0).norm() / 4;
    std::size_t diagonal = 0;
    for (std::size_t q = 1; q < hollow.equivalent_positions.size(); ++q) {
        const Vec v = slab.minimum_image(slab.to_fractional(hollow.position), slab.to_fractional(hollow.equivalent_positions[q]));
        if (std::abs(v.norm() - d_surf * std::sqrt(2.0)) < 1e-6) diagonal = q;
    }
    REQUIRE(diagonal != 0);
    HopEndpoints h{add_adsorbate(slab, hollow, "Li"), add_adsorbate(slab, hollow, "Li", 0.0, diagonal), slab.size(), 0, "", ""};
    rattle(h, 0.03);
    const auto& initial = h.initial;
    const auto& final = h.final;
    PathOptions o;
    o.images = 5;
    const double threshold = 2.0;  // Å, 0.8 of the Li-Al covalent bond length
    const auto linear = interpolate_path(initial, final, o);
    const auto dl = path_min_distances(linear.images);
    CHECK(dl[3].min_distance < 1.6);
    CHECK(linear.images[3][dl[3].atom_b].species == "Li");
    // The error names the first image below the threshold and its closest pair.
    std::size_t first = 0;
    while (dl[first].min_distance >= threshold) ++first;
    const std::string expected = fmt::format("image {:02d}: atoms {} (Al) and {} (Li) are {:.3f} Å apart", first,
                                             dl[first].atom_a + 1, dl[first].atom_b + 1, dl[first].min_distance);
    CHECK_THROWS_WITH_AS(check_path_distances(linear.images, threshold), doctest::Contains(expected.c_str()),
                         StructureError);
    o.method = PathMethod::Idpp;
    const auto idpp = interpolate_path(initial, final, o);
    CHECK_NOTHROW(check_path_distances(idpp.images, threshold));
    const auto di = path_min_distances(idpp.images);
    for (const auto& d : di) CHECK(d.min_distance > threshold);
    if (have_python_module("ase.neb")) {
        const auto dir = testing::scratch("idpp_over_top");
        CHECK(max_deviation(idpp, ase_path(dir, "over_top", initial, final, 5, "idpp")) < 1e-6);
    }
}

namespace {
/// Runs the CLI; returns its exit code, stdout+stderr in `output`.
int run_cli(const std::string& args, const fs::path& log, std::string& output) {
    const int status = std::system((testing::cli().string() + " " + args + " > " + log.string() + " 2>&1").c_str());
    std::ifstream in(log);
    output.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
}  // namespace

TEST_CASE("CLI: build sites writes hop end points, build path writes images 00..N+1 and a summary") {
    if (!fs::exists(testing::cli())) {
        MESSAGE("the interphase CLI is not built: skipping");
        return;
    }
    const auto dir = testing::scratch("cli_path");
    std::string out;
    REQUIRE(run_cli("build sites Al --kind interstitial --supercell 2,2,2 --hops " + (dir / "hops").string() + " -o " +
                        (dir / "sites.json").string(), dir / "sites.log", out) == 0);
    nlohmann::json sites;
    std::ifstream(dir / "sites.json") >> sites;
    REQUIRE(sites["sites"].size() == 2);
    CHECK(sites["sites"][0]["wyckoff"] == "b");
    CHECK(sites["sites"][0]["multiplicity"] == 32);
    REQUIRE(fs::exists(dir / "hops" / "hop_1" / "initial.vasp"));

    const std::string ends = (dir / "hops" / "hop_1" / "initial.vasp").string() + " " +
                             (dir / "hops" / "hop_1" / "final.vasp").string();
    REQUIRE(run_cli("build path " + ends + " --images 3 --method idpp -o " + (dir / "neb").string(), dir / "path.log", out) == 0);
    nlohmann::json summary;
    std::ifstream(dir / "neb" / "summary.json") >> summary;
    CHECK(summary["method"] == "idpp");
    REQUIRE(summary["path"].size() == 5);
    for (int k = 0; k < 5; ++k) {
        CAPTURE(k);
        const auto file = dir / "neb" / fmt::format("{:02d}", k) / "POSCAR";
        REQUIRE(fs::exists(file));
        // The reported closest pair is the one of the written image.
        const auto image = read_structure(file);
        CHECK(summary["path"][k]["min_distance"].get<double>() ==
              doctest::Approx(path_min_distances({image})[0].min_distance).epsilon(1e-6));
    }
    // The interpolated Li goes straight between two octahedral holes: a/√2 in 4 equal steps.
    const auto first = read_structure(dir / "neb" / "00" / "POSCAR");
    const auto last = read_structure(dir / "neb" / "04" / "POSCAR");
    double moved = 0;
    for (std::size_t i = 0; i < first.size(); ++i) moved = std::max(moved, first.minimum_image(first[i].frac, last[i].frac).norm());
    CHECK(moved == doctest::Approx(lattice_a(build_bulk("Al")) / std::sqrt(2.0)).epsilon(1e-6));

    // A threshold above the closest pair of some image: exit code 2, the image and pair named,
    // nothing written.
    CHECK(run_cli("build path " + ends + " --images 3 --min-distance 2.2 -o " + (dir / "neb2").string(), dir / "bad.log", out) == 2);
    CHECK(out.find("image 0") != std::string::npos);
    CHECK(out.find("Å apart (threshold 2.2 Å)") != std::string::npos);
    CHECK(!fs::exists(dir / "neb2"));
    CHECK(run_cli("build path " + ends + " --images 3 --method idpq -o " + (dir / "neb3").string(), dir / "m.log", out) == 2);
    CHECK(out.find("did you mean 'idpp'") != std::string::npos);
    CHECK(run_cli("build sites Al --kind holes", dir / "k.log", out) == 2);
    CHECK(out.find("--kind") != std::string::npos);
}
