#include "structures/interface_hops.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <limits>
#include <map>
#include <vector>

#include "common/errors.hpp"
#include "common/text.hpp"
#include "structures/elements.hpp"

namespace interphase::structures {
namespace {

using Vec = Eigen::Vector3d;
constexpr double kInf = std::numeric_limits<double>::infinity();

/// The stacking direction as interface_planes() measures it: unit normal a×b turned towards c,
/// and the period of the stack along it.
struct Stacking {
    Vec n;
    double period = 0;
    bool periodic = true;
};

Stacking stacking_of(const Structure& s) {
    const Eigen::Matrix3d& L = s.lattice();
    Stacking g;
    g.n = L.row(0).transpose().cross(L.row(1).transpose()).normalized();
    g.period = g.n.dot(L.row(2).transpose());
    if (g.period < 0) {
        g.n = -g.n;
        g.period = -g.period;
    }
    g.periodic = s.pbc()[2];
    return g;
}

/// Signed distance of a point from plane p, positive towards B (wrapped along the normal when c
/// is periodic, as find_interface_sites does).
double towards_b(const Structure& s, const Stacking& g, const Vec& frac, const InterfacePlane& p) {
    double d = g.n.dot(s.to_cartesian(frac)) - p.height;
    if (g.periodic) d -= g.period * std::round(d / g.period);
    return p.below == 'A' ? d : -d;
}

/// Heights (towards B) of the atomic planes of A and B that face plane p: the A atom highest
/// below it and the B atom lowest above it, within max_gap (farther atoms belong to the far faces
/// of the blocks, possibly seen through the periodic boundary).
struct FacingPlanes {
    double a = -kInf, b = kInf;
};

FacingPlanes facing_planes(const Structure& s, const Stacking& g, const InterfacePlane& p, double max_gap) {
    FacingPlanes f;
    for (const auto& atom : s.atoms()) {
        const char side = interface_side(atom);
        const double h = towards_b(s, g, atom.frac, p);
        if (side == 'A' && h < 0 && h >= -max_gap) f.a = std::max(f.a, h);
        if (side == 'B' && h > 0 && h <= max_gap) f.b = std::min(f.b, h);
    }
    return f;
}

bool inside(char side, double height, const FacingPlanes& f, double tolerance) {
    return side == 'A' ? height <= f.a + tolerance : height >= f.b - tolerance;
}

void check_options(const InterfaceHopOptions& o) {
    const char* source = "interface hop";
    if (o.species.empty() || !is_element(o.species))
        throw InputError(source, "species", fmt::format("'{}' is not a chemical element", o.species));
    if (!(o.min_hop >= 0) || !std::isfinite(o.min_hop))
        throw InputError(source, "min_hop", fmt::format("must be >= 0 Å, got {}", o.min_hop));
    if (!(o.max_hop > o.min_hop) || !std::isfinite(o.max_hop))
        throw InputError(source, "max_hop", fmt::format("must be a finite length above min_hop ({} Å), got {}", o.min_hop,
                                                        o.max_hop));
    if (!(o.inside_tolerance >= 0) || !std::isfinite(o.inside_tolerance))
        throw InputError(source, "inside_tolerance", fmt::format("must be >= 0 Å, got {}", o.inside_tolerance));
    if (!(o.image_margin >= 0) || !std::isfinite(o.image_margin))
        throw InputError(source, "image_margin", fmt::format("must be >= 0 Å, got {}", o.image_margin));
}

/// The sites of one side that are inside its phase, or the named one (InputError when the name
/// is unknown or names a site that is not admissible as this end point).
std::vector<const InterfaceSite*> end_point_sites(const std::vector<InterfaceSite>& sites,
                                                  const std::vector<FacingPlanes>& faces, char side,
                                                  const std::string& name, const char* field, double tolerance,
                                                  double depth) {
    std::vector<const InterfaceSite*> admissible;
    std::vector<std::string> names;
    for (const auto& s : sites)
        if (s.side == side && inside(side, s.height, faces[static_cast<std::size_t>(s.plane)], tolerance)) {
            admissible.push_back(&s);
            names.push_back(s.site.name);
        }
    if (name.empty()) {
        if (admissible.empty())
            throw StructureError(fmt::format("interface hop: no Li site inside side {} within {} Å of the interface plane "
                                             "(sites nearer the plane lie in the gap between the blocks; raise the depth)",
                                             side, depth));
        return admissible;
    }
    for (const auto* s : admissible)
        if (s->site.name == name) return {s};
    const std::string what = fmt::format("site inside side {}", side);
    for (const auto& s : sites)
        if (s.site.name == name) {
            const auto& f = faces[static_cast<std::size_t>(s.plane)];
            const std::string where =
                s.side != side ? fmt::format("is on side {}", s.side)
                               : fmt::format("lies in the gap, {:.2f} Å from the plane while side {}'s facing atomic plane "
                                             "is at {:.2f} Å",
                                             s.height, side, side == 'A' ? f.a : f.b);
            throw InputError("interface hop", field,
                             fmt::format("site '{}' {}, so it is not a {}; {}", name, where, what,
                                         names.empty() ? std::string("there is none")
                                                       : fmt::format("choose one of {}", fmt::join(names, ", "))));
        }
    throw InputError("interface hop", field, text::unknown_name_message(what, name, names));
}

}  // namespace

HopEndpoints interface_hop(const Structure& iface, const InterfaceHopOptions& o) {
    check_options(o);
    const auto sites = find_interface_sites(iface, o.sites);
    const auto planes = interface_planes(iface, o.sites.max_gap);
    const Stacking g = stacking_of(iface);
    std::vector<FacingPlanes> faces;
    for (const auto& p : planes) faces.push_back(facing_planes(iface, g, p, o.sites.max_gap));

    const char from_side = o.reverse ? 'B' : 'A', to_side = o.reverse ? 'A' : 'B';
    const auto starts = end_point_sites(sites, faces, from_side, o.from, "from", o.inside_tolerance, o.sites.depth);
    const auto ends = end_point_sites(sites, faces, to_side, o.to, "to", o.inside_tolerance, o.sites.depth);

    struct Pair {
        const InterfaceSite* from = nullptr;
        const InterfaceSite* to = nullptr;
        Vec to_frac = Vec::Zero();  // the copy of `to` nearest `from`, unwrapped next to it
        double height = 0;          // of that copy
        double d = kInf;
    };
    Pair best, shortest;
    for (const auto* s : starts)
        for (const auto* e : ends) {
            if (e->plane != s->plane) continue;  // a hop crosses one interface plane
            const auto& plane = planes[static_cast<std::size_t>(s->plane)];
            const auto& f = faces[static_cast<std::size_t>(s->plane)];
            for (const auto& q : e->site.equivalent) {
                // A copy may sit at the other plane of a symmetric periodic stack.
                const double h = towards_b(iface, g, q, plane);
                if (std::abs(h) > o.sites.depth + 1e-9 || !inside(to_side, h, f, o.inside_tolerance)) continue;
                const Vec v = iface.minimum_image(s->site.frac, q);
                const double d = v.norm();
                const Pair p{s, e, s->site.frac + iface.to_fractional(v), h, d};
                if (d < shortest.d - 1e-6) shortest = p;
                if (d >= o.min_hop - 1e-9 && d < best.d - 1e-6) best = p;
            }
        }
    const std::string sides = fmt::format("inside side {} to inside side {}", from_side, to_side);
    if (!shortest.from)
        throw StructureError(fmt::format("interface hop: no pair of sites {} at the same interface plane", sides));
    if (!best.from)
        throw StructureError(fmt::format("interface hop: every hop {} is shorter than min_hop = {} Å (the longest "
                                         "candidate pairs are below it; lower min_hop)", sides, o.min_hop));
    if (best.d > o.max_hop)
        throw StructureError(fmt::format("interface hop: the shortest hop {} is {:.3f} Å ({} -> {}), longer than "
                                         "max_hop = {} Å",
                                         sides, best.d, best.from->site.name, best.to->site.name, o.max_hop));

    HopEndpoints h = site_hop(iface, best.from->site.frac, best.to_frac, o.species, o.image_margin);
    const auto& plane = planes[static_cast<std::size_t>(best.from->plane)];
    h.kind = "interface";
    h.description = fmt::format("{} from {} (inside {}, {:+.2f} Å) to {} (inside {}, {:+.2f} Å) across the plane at "
                                "{:.2f} Å, {:.3f} Å",
                                o.species, best.from->site.name, from_side, best.from->height, best.to->site.name,
                                to_side, best.height, plane.height, h.distance);
    for (auto* s : {&h.initial, &h.final})
        if (s->info.is_object())
            s->info["hop"] = {{"kind", "interface"},
                              {"species", o.species},
                              {"from", best.from->site.name},
                              {"to", best.to->site.name},
                              {"from_side", std::string(1, from_side)},
                              {"to_side", std::string(1, to_side)},
                              {"from_height", best.from->height},
                              {"to_height", best.height},
                              {"plane", best.from->plane},
                              {"plane_height", plane.height},
                              {"moving_atom", h.moving_atom},
                              {"distance", h.distance}};
    return h;
}

namespace {

/// Side and height of atom m relative to the nearest interface plane of the other atoms.
struct MobilePlace {
    char side = 'A';
    double height = 0, plane = 0;
};

MobilePlace place_of(const Structure& s, std::size_t m, double max_gap, const char* which) {
    Structure host = s;
    host.atoms().erase(host.atoms().begin() + static_cast<std::ptrdiff_t>(m));
    std::vector<InterfacePlane> planes;
    try {
        planes = interface_planes(host, max_gap);
    } catch (const StructureError& e) {
        throw StructureError(fmt::format("interface hop end points: {} end point: {}", which, e.what()));
    }
    const Stacking g = stacking_of(s);
    MobilePlace best;
    double best_abs = kInf;
    for (const auto& p : planes) {
        const double h = towards_b(s, g, s[m].frac, p);
        if (std::abs(h) < best_abs) {
            best_abs = std::abs(h);
            best = {h < 0 ? 'A' : 'B', h, p.height};
        }
    }
    return best;
}

}  // namespace

InterfaceHopCheck check_interface_hop(const Structure& initial, const Structure& final, std::size_t moving_atom,
                                      const InterfaceHopCheckOptions& o) {
    if (!(o.min_separation >= 0) || !std::isfinite(o.min_separation))
        throw InputError("interface hop check", "min_separation", fmt::format("must be >= 0 Å, got {}", o.min_separation));
    if (initial.size() != final.size())
        throw StructureError(fmt::format("interface hop end points: the initial has {} atoms, the final {}", initial.size(),
                                         final.size()));
    if (moving_atom >= initial.size())
        throw StructureError(fmt::format("interface hop end points: moving atom {} (0-based) is not in a structure of {} "
                                         "atoms", moving_atom, initial.size()));
    for (std::size_t i = 0; i < initial.size(); ++i)
        if (initial[i].species != final[i].species)
            throw StructureError(fmt::format("interface hop end points: atom {} is {} in the initial and {} in the final",
                                             i + 1, initial[i].species, final[i].species));
    InterfaceHopCheck r;
    // The final's mobile position in the initial's cell: a relaxation at fixed cell changes
    // nothing, and a slightly different cell still gives the displacement that matters.
    const Vec to = initial.to_fractional(final.cartesian(moving_atom));
    r.separation = initial.minimum_image(initial[moving_atom].frac, to).norm();
    const std::string atom = fmt::format("atom {}, {}", moving_atom + 1, initial[moving_atom].species);
    if (r.separation < o.min_separation)
        throw StructureError(fmt::format("interface hop end points: the end points relaxed into one minimum (mobile "
                                         "atom {:.2f} Å apart, {}; at least {} Å needed)",
                                         r.separation, atom, o.min_separation));
    const auto a = place_of(initial, moving_atom, o.max_gap, "initial");
    const auto b = place_of(final, moving_atom, o.max_gap, "final");
    r.initial_side = a.side;
    r.initial_height = a.height;
    r.initial_plane = a.plane;
    r.final_side = b.side;
    r.final_height = b.height;
    r.final_plane = b.plane;
    const char want_initial = o.reverse ? 'B' : 'A', want_final = o.reverse ? 'A' : 'B';
    auto wrong = [&](const char* which, const MobilePlace& p, char want) {
        return StructureError(fmt::format("interface hop end points: the relaxed {} mobile atom ({}) is on side {}, {:+.2f} Å "
                                          "from the interface plane at {:.2f} Å; it should be on side {}",
                                          which, atom, p.side, p.height, p.plane, want));
    };
    if (a.side != want_initial) throw wrong("initial", a, want_initial);
    if (b.side != want_final) throw wrong("final", b, want_final);
    return r;
}

std::size_t fix_outer_layers(Structure& iface, int n) {
    if (n < 0) throw InputError("interface", "fix_outer_layers", fmt::format("must be >= 0 planes, got {}", n));
    if (n > 0 && iface.info.is_object() && iface.info.value("periodic", false))
        throw InputError("interface", "fix_outer_layers",
                         "a fully periodic interface has no outer surface: every plane of A and B faces the other side "
                         "across an interface, so there are no outer layers to fix; use 0 (or build the slab model)");
    Structure tagged(iface.lattice(), iface.pbc());
    std::vector<std::size_t> index;
    for (std::size_t i = 0; i < iface.size(); ++i)
        if (interface_side(iface[i])) {
            tagged.atoms().push_back(iface[i]);
            index.push_back(i);
        }
    const auto planes = interface_planes(tagged);
    if (planes.size() > 1 && n > 0)
        throw InputError("interface", "fix_outer_layers",
                         fmt::format("the cell holds {} interface planes (a fully periodic A|B|A stack): there is no "
                                     "outer surface and so no outer layers to fix; use 0 (or build the slab model)",
                                     planes.size()));
    const Stacking g = stacking_of(tagged);
    // Heights measured from the middle of the widest empty stretch along the normal (the vacuum
    // of a slab model), so a block that crosses the periodic boundary of c stays in one piece.
    std::vector<double> h(tagged.size());
    for (std::size_t i = 0; i < tagged.size(); ++i) h[i] = g.n.dot(tagged.cartesian(i));
    if (g.periodic) {
        std::vector<double> w = h;
        for (auto& x : w) x -= g.period * std::floor(x / g.period);
        std::sort(w.begin(), w.end());
        double origin = 0, widest = -1;
        for (std::size_t k = 0; k < w.size(); ++k) {
            const double lo = w[k], hi = k + 1 < w.size() ? w[k + 1] : w.front() + g.period;
            if (hi - lo > widest) {
                widest = hi - lo;
                origin = 0.5 * (lo + hi);
            }
        }
        for (auto& x : h) x = (x - origin) - g.period * std::floor((x - origin) / g.period);
    }
    // Outward: away from the interface, down for the side below it, up for the side above.
    const char below = planes.front().below;
    auto outward = [&](char side, double height) { return side == below ? -height : height; };

    // Planes of each side as (outward position, atoms), outermost first; all validated before
    // any flag changes.
    using Planes = std::vector<std::pair<double, std::vector<std::size_t>>>;
    std::map<char, Planes> sides;
    for (const char side : {'A', 'B'}) {
        std::vector<std::size_t> members;
        bool layered = true;
        for (std::size_t i = 0; i < tagged.size(); ++i)
            if (interface_side(tagged[i]) == side) {
                members.push_back(i);
                layered &= tagged[i].layer >= 0;
            }
        Planes& side_planes = sides[side];
        if (layered) {
            std::map<int, std::pair<double, std::vector<std::size_t>>> by_layer;
            for (const auto i : members) {
                auto& [sum, atoms] = by_layer[tagged[i].layer];
                sum += outward(side, h[i]);
                atoms.push_back(i);
            }
            for (auto& [layer, entry] : by_layer)
                side_planes.push_back({entry.first / static_cast<double>(entry.second.size()), std::move(entry.second)});
        } else {
            std::sort(members.begin(), members.end(),
                      [&](std::size_t x, std::size_t y) { return outward(side, h[x]) > outward(side, h[y]); });
            for (const auto i : members) {
                const double u = outward(side, h[i]);
                if (side_planes.empty() || side_planes.back().first - u >= 0.1) side_planes.push_back({u, {}});
                side_planes.back().second.push_back(i);
            }
        }
        std::stable_sort(side_planes.begin(), side_planes.end(),
                         [](const auto& x, const auto& y) { return x.first > y.first; });
        const int count = static_cast<int>(side_planes.size());
        if (n >= count)
            throw InputError("interface", "fix_outer_layers",
                             fmt::format("{} would fix all {} atomic planes of side {} (nothing of it left to relax); at "
                                         "most {}",
                                         n, count, side, count - 1));
    }
    std::size_t fixed = 0;
    for (const auto& [side, side_planes] : sides)
        for (std::size_t k = 0; k < side_planes.size(); ++k)
            for (const auto i : side_planes[k].second) {
                const bool outer = k < static_cast<std::size_t>(n);
                iface[index[i]].fixed = outer;
                fixed += outer ? 1 : 0;
            }
    return fixed;
}

}  // namespace interphase::structures
