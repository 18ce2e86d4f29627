#include "structures/slab.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <numeric>
#include <set>

#include "common/errors.hpp"
#include "common/text.hpp"
#include "structures/lattice_tools.hpp"

namespace interphase::structures {

std::array<int, 3> reduce_miller(const std::array<int, 3>& hkl) {
    const int g = std::gcd(std::gcd(std::abs(hkl[0]), std::abs(hkl[1])), std::abs(hkl[2]));
    if (g == 0) throw InputError("miller", "", "Miller index (0,0,0) does not define a plane");
    return {hkl[0] / g, hkl[1] / g, hkl[2] / g};
}

std::array<int, 3> parse_miller(const std::string& text, const std::string& source) {
    std::string s = text;
    for (auto& c : s)
        if (c == ',' || c == '(' || c == ')' || c == '[' || c == ']') c = ' ';
    auto tokens = text::split_ws(s);
    std::vector<int> v;
    if (tokens.size() == 1 && tokens[0].find_first_not_of("0123456789") == std::string::npos && tokens[0].size() == 3) {
        for (char c : tokens[0]) v.push_back(c - '0');  // "111"
    } else {
        for (const auto& t : tokens) {
            auto i = text::parse_int(t);
            if (!i || std::abs(*i) > 100) throw InputError(source, "miller", fmt::format("'{}' is not a Miller index", text));
            v.push_back(static_cast<int>(*i));
        }
    }
    if (v.size() == 4) {
        // Hexagonal Miller–Bravais (h k i l) with i = -(h + k).
        if (v[2] != -(v[0] + v[1]))
            throw InputError(source, "miller", fmt::format("'{}': in (h,k,i,l) i must equal -(h+k)", text));
        v = {v[0], v[1], v[3]};
    }
    if (v.size() != 3) throw InputError(source, "miller", fmt::format("'{}' needs 3 (or 4 hexagonal) integers", text));
    if (v[0] == 0 && v[1] == 0 && v[2] == 0) throw InputError(source, "miller", "(0,0,0) does not define a plane");
    return {v[0], v[1], v[2]};
}

namespace {

constexpr int kSearchRange = 6;

struct Plane {
    double height;               // Å above the cell bottom, in [0, d)
    std::set<std::string> species;
};

std::string join_species(const std::set<std::string>& s) {
    std::string out;
    for (const auto& x : s) out += (out.empty() ? "" : ",") + x;
    return out;
}

// Atomic planes of the oriented cell along the normal, clustered with `tol` Å, periodic in d.
std::vector<Plane> planes_of(const OrientedCell& oc, double tol) {
    std::vector<std::pair<double, std::string>> h;
    for (const auto& a : oc.cell.atoms()) h.emplace_back(a.frac[2] * oc.d_spacing, a.species);
    std::sort(h.begin(), h.end());
    std::vector<Plane> planes;
    std::vector<std::vector<double>> members;
    for (const auto& [z, sp] : h) {
        if (!planes.empty() && z - members.back().back() < tol) {
            members.back().push_back(z);
            planes.back().species.insert(sp);
        } else {
            planes.push_back({z, {sp}});
            members.push_back({z});
        }
    }
    // A plane split across the periodic boundary joins the first one.
    if (planes.size() > 1 && planes.front().height + oc.d_spacing - members.back().back() < tol) {
        for (double z : members.back()) members.front().push_back(z - oc.d_spacing);
        planes.front().species.insert(planes.back().species.begin(), planes.back().species.end());
        planes.pop_back();
        members.pop_back();
    }
    for (std::size_t i = 0; i < planes.size(); ++i)
        planes[i].height = std::accumulate(members[i].begin(), members[i].end(), 0.0) / members[i].size();
    return planes;
}

}  // namespace

OrientedCell oriented_cell(const Structure& bulk, const std::array<int, 3>& miller_in) {
    const auto miller = reduce_miller(miller_in);
    const Structure prim = primitive_of(bulk);
    const Eigen::Matrix3d C = bulk.lattice(), P = prim.lattice();
    // Plane normal (reciprocal vector without 2π) from the user's indices in the input basis.
    const Eigen::Vector3d g = C.inverse() * Eigen::Vector3d(miller[0], miller[1], miller[2]);
    const Eigen::Vector3d hp = P * g;  // indices in the primitive basis (rational)
    std::array<int, 3> mp{};
    bool found = false;
    for (int scale = 1; scale <= 48 && !found; ++scale) {
        Eigen::Vector3d s = hp * scale;
        if ((s - s.array().round().matrix()).cwiseAbs().maxCoeff() < 1e-6) {
            mp = reduce_miller({static_cast<int>(std::lround(s[0])), static_cast<int>(std::lround(s[1])),
                                static_cast<int>(std::lround(s[2]))});
            found = true;
        }
    }
    if (!found) throw StructureError(fmt::format("cannot express ({},{},{}) in the primitive basis", miller[0], miller[1], miller[2]));

    const Eigen::Vector3d gp = P.inverse() * Eigen::Vector3d(mp[0], mp[1], mp[2]);
    const Eigen::Vector3d normal = gp.normalized();
    const double area0 = prim.volume() * gp.norm();  // area of the primitive 2D cell of the plane

    struct Candidate { Eigen::Vector3i u; Eigen::Vector3d cart; double len; };
    std::vector<Candidate> inplane, stacking;
    for (int i = -kSearchRange; i <= kSearchRange; ++i)
        for (int j = -kSearchRange; j <= kSearchRange; ++j)
            for (int k = -kSearchRange; k <= kSearchRange; ++k) {
                const int dot = mp[0] * i + mp[1] * j + mp[2] * k;
                if (dot != 0 && dot != 1) continue;
                if (i == 0 && j == 0 && k == 0) continue;
                Eigen::Vector3i u(i, j, k);
                Eigen::Vector3d cart = P.transpose() * u.cast<double>();
                (dot == 0 ? inplane : stacking).push_back({u, cart, cart.norm()});
            }
    auto by_len = [](const Candidate& a, const Candidate& b) { return a.len < b.len - 1e-9; };
    std::stable_sort(inplane.begin(), inplane.end(), by_len);
    if (inplane.empty()) throw StructureError("no in-plane lattice vectors found (Miller index too large)");
    const Candidate u1 = inplane.front();
    const Candidate* u2 = nullptr;
    // Prefer an obtuse (120°) pair among equally short vectors, the usual surface-science choice.
    for (const auto& c : inplane) {
        const double area = u1.cart.cross(c.cart).norm();
        if (std::abs(area - area0) < 1e-6 * area0) {
            if (!u2 || (std::abs(c.len - u2->len) < 1e-9 && c.cart.dot(u1.cart) < u2->cart.dot(u1.cart))) u2 = &c;
            else if (c.len > u2->len + 1e-9) break;
        }
    }
    if (!u2) throw StructureError("no primitive in-plane basis found (Miller index too large)");
    // Stacking vector: the one closest to the normal, then the shortest.
    const Candidate* u3 = nullptr;
    double best = 1e300;
    for (const auto& c : stacking) {
        const double inplane_part = (c.cart - c.cart.dot(normal) * normal).norm();
        if (inplane_part < best - 1e-6) { best = inplane_part; u3 = &c; }
    }
    if (!u3) throw StructureError("no stacking vector found (Miller index too large)");

    Eigen::Matrix3i T;
    T.row(0) = u1.u.transpose();
    T.row(1) = u2->u.transpose();
    T.row(2) = u3->u.transpose();
    if (T.cast<double>().determinant() < 0) {
        Eigen::Vector3i tmp = T.row(0);
        T.row(0) = T.row(1);
        T.row(1) = tmp.transpose();
    }
    OrientedCell oc;
    oc.miller_primitive = mp;
    oc.transformation = T;
    oc.d_spacing = 1.0 / gp.norm();
    Structure cell(T.cast<double>() * P);
    for (std::size_t i = 0; i < prim.size(); ++i) cell.add_atom_cartesian(prim[i].species, prim.cartesian(i));
    cell.wrap();
    cell.title = bulk.title;
    oc.cell = std::move(cell);
    return oc;
}

std::vector<Termination> terminations(const Structure& bulk, const std::array<int, 3>& miller, double tol) {
    const OrientedCell oc = oriented_cell(bulk, miller);
    const auto planes = planes_of(oc, tol);
    const double d = oc.d_spacing;
    std::vector<Termination> out;
    for (std::size_t i = 0; i < planes.size(); ++i) {
        const Plane& below = planes[i];
        const Plane& above = planes[(i + 1) % planes.size()];
        const double above_h = (i + 1 < planes.size()) ? above.height : above.height + d;
        Termination t;
        t.gap = above_h - below.height;
        double cut = below.height + 0.5 * t.gap;
        t.shift = cut / d - std::floor(cut / d);
        t.top_species = join_species(below.species);
        t.bottom_species = join_species(above.species);
        out.push_back(t);
    }
    std::stable_sort(out.begin(), out.end(), [](const Termination& a, const Termination& b) { return a.gap > b.gap + 1e-6; });
    for (std::size_t i = 0; i < out.size(); ++i) out[i].index = static_cast<int>(i);
    return out;
}

int assign_layers(Structure& slab, double tolerance) {
    std::vector<std::size_t> order(slab.size());
    std::iota(order.begin(), order.end(), 0);
    std::vector<double> z(slab.size());
    for (std::size_t i = 0; i < slab.size(); ++i) z[i] = slab.cartesian(i)[2];
    std::sort(order.begin(), order.end(), [&](auto a, auto b) { return z[a] < z[b]; });
    int layer = -1;
    double last = -1e300;
    for (auto i : order) {
        if (z[i] - last >= tolerance) ++layer;
        last = z[i];
        slab[i].layer = layer;
    }
    return layer + 1;
}

Structure build_slab(const Structure& bulk, const SlabSpec& spec) {
    if (spec.layers < 1) throw InputError("slab", "layers", "must be >= 1");
    if (spec.vacuum < 0) throw InputError("slab", "vacuum", "must be >= 0 Å");
    if (spec.supercell[0] < 1 || spec.supercell[1] < 1) throw InputError("slab", "supercell", "entries must be >= 1");
    const OrientedCell oc = oriented_cell(bulk, spec.miller);
    auto terms = terminations(bulk, spec.miller, spec.plane_tolerance);
    const Termination* term = &terms.front();
    if (spec.termination_species) {
        term = nullptr;
        for (const auto& t : terms)
            if (t.top_species == *spec.termination_species) { term = &t; break; }
        if (!term) {
            std::vector<std::string> known;
            for (const auto& t : terms) known.push_back(t.top_species);
            throw InputError("slab", "termination",
                             text::unknown_name_message("termination", *spec.termination_species, known));
        }
    } else if (spec.termination_index) {
        if (*spec.termination_index < 0 || *spec.termination_index >= static_cast<int>(terms.size()))
            throw InputError("slab", "termination",
                             fmt::format("index {} out of range: ({},{},{}) has {} terminations", *spec.termination_index,
                                         spec.miller[0], spec.miller[1], spec.miller[2], terms.size()));
        term = &terms[static_cast<std::size_t>(*spec.termination_index)];
    }

    const Eigen::Matrix3d A = oc.cell.lattice();
    const Eigen::Vector3d a1 = A.row(0), a2 = A.row(1), a3 = A.row(2);
    const Eigen::Vector3d n = a1.cross(a2).normalized();
    const Eigen::Vector3d x = a1.normalized();
    const Eigen::Vector3d y = n.cross(x);

    struct Placed { std::string species; Eigen::Vector3d r; };
    std::vector<Placed> placed;
    for (const auto& atom : oc.cell.atoms()) {
        double f3 = atom.frac[2] - term->shift;
        f3 -= std::floor(f3);
        for (int j = 0; j < spec.layers; ++j) {
            const Eigen::Vector3d cart = atom.frac[0] * a1 + atom.frac[1] * a2 + (f3 + j) * a3;
            placed.push_back({atom.species, Eigen::Vector3d(cart.dot(x), cart.dot(y), cart.dot(n))});
        }
    }
    double zmin = 1e300, zmax = -1e300;
    for (const auto& p : placed) { zmin = std::min(zmin, p.r[2]); zmax = std::max(zmax, p.r[2]); }
    const double thickness = zmax - zmin;
    const double height = thickness + spec.vacuum;
    if (height < 1e-3) throw InputError("slab", "vacuum", "a one-plane slab needs vacuum > 0");

    Eigen::Matrix3d L;
    L.row(0) << a1.dot(x), 0, 0;
    L.row(1) << a2.dot(x), a2.dot(y), 0;
    L.row(2) << 0, 0, height;
    const int na = spec.supercell[0], nb = spec.supercell[1];
    Eigen::Matrix3d Lsuper = L;
    Lsuper.row(0) *= na;
    Lsuper.row(1) *= nb;
    // Periodic in the surface plane only: the vacuum direction has no Bloch periodicity (one
    // k-point along z), even though plane-wave codes repeat the cell along it.
    Structure slab(Lsuper, {true, true, false});
    const double offset = 0.5 * spec.vacuum - zmin;
    for (int ia = 0; ia < na; ++ia)
        for (int ib = 0; ib < nb; ++ib)
            for (const auto& p : placed) {
                Eigen::Vector3d r = p.r + ia * L.row(0).transpose() + ib * L.row(1).transpose();
                r[2] += offset;
                slab.add_atom_cartesian(p.species, r);
            }
    slab.wrap();
    // Heights were set explicitly; wrapping must not move atoms across the vacuum.
    const int nlayers = assign_layers(slab, spec.plane_tolerance);
    const double zbottom = 0.5 * spec.vacuum;
    for (std::size_t i = 0; i < slab.size(); ++i) {
        auto& a = slab[i];
        a.fixed = a.layer < spec.fix_bottom_layers || (spec.fix_bottom > 0 && slab.cartesian(i)[2] - zbottom < spec.fix_bottom + 1e-6);
    }
    // Stable, readable order: bottom to top, then species.
    std::stable_sort(slab.atoms().begin(), slab.atoms().end(), [](const Atom& a, const Atom& b) {
        return a.layer != b.layer ? a.layer < b.layer : a.species < b.species;
    });
    slab.title = fmt::format("{}({}{}{}) slab", bulk.title.empty() ? bulk.formula(true) : bulk.title, spec.miller[0],
                             spec.miller[1], spec.miller[2]);
    slab.info = {{"kind", "slab"},
                 {"bulk", bulk.title.empty() ? bulk.formula(true) : bulk.title},
                 {"miller", {spec.miller[0], spec.miller[1], spec.miller[2]}},
                 {"miller_primitive", {oc.miller_primitive[0], oc.miller_primitive[1], oc.miller_primitive[2]}},
                 {"termination", term->label()},
                 {"termination_index", term->index},
                 {"shift", term->shift},
                 {"d_hkl", oc.d_spacing},
                 {"repeats", spec.layers},
                 {"atomic_layers", nlayers},
                 {"supercell", {na, nb}},
                 {"vacuum", spec.vacuum},
                 {"area", Lsuper.row(0).cross(Lsuper.row(1)).norm()},
                 {"thickness", thickness}};
    return slab;
}

}  // namespace interphase::structures
