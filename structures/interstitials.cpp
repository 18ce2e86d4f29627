#include "structures/interstitials.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <fmt/format.h>
#include <map>
#include <numeric>

#include "common/errors.hpp"
#include "structures/symmetry.hpp"

namespace interphase::structures {
namespace {

using Vec = Eigen::Vector3d;

// Points on a clipping plane within this distance (Å) count as lying on it. Degenerate vertices
// (four or more atoms on one empty sphere, as in every cubic crystal) are hit by later planes to
// ~1e-14 Å; a looser threshold keeps them single vertices instead of slivers.
constexpr double kPlaneEps = 1e-7;

// ---------------------------------------------------------------------------------------------
// Periodic images

/// How many cell repeats along each lattice direction cover a sphere of radius `cutoff`: the
/// perpendicular height of the cell along direction k is V / |a_{k+1} x a_{k+2}|.
std::array<int, 3> image_range(const Structure& s, double cutoff) {
    const Eigen::Matrix3d& L = s.lattice();
    const double volume = std::abs(L.determinant());
    std::array<int, 3> n{0, 0, 0};
    for (int k = 0; k < 3; ++k) {
        if (!s.pbc()[static_cast<std::size_t>(k)]) continue;
        const Vec cross = L.row((k + 1) % 3).transpose().cross(L.row((k + 2) % 3).transpose());
        const double height = volume / cross.norm();
        n[static_cast<std::size_t>(k)] = static_cast<int>(std::ceil(cutoff / height)) + 1;
    }
    return n;
}

struct Neighbour {
    std::size_t atom;
    Vec r;        ///< Cartesian vector from the centre to this image
    double dist;  ///< |r|
};

/// All atom images within `cutoff` Å of the Cartesian point `centre`, nearest first.
std::vector<Neighbour> neighbours_of(const Structure& s, const Vec& centre, double cutoff) {
    const auto n = image_range(s, cutoff);
    const Eigen::Matrix3d LT = s.lattice().transpose();
    // Shift the point into the home cell so that the image range is symmetric around it.
    Vec f = s.to_fractional(centre);
    Vec shift = Vec::Zero();
    for (int k = 0; k < 3; ++k)
        if (s.pbc()[static_cast<std::size_t>(k)]) shift[k] = std::floor(f[k]);
    const Vec home = centre - LT * shift;
    std::vector<Neighbour> out;
    for (std::size_t a = 0; a < s.size(); ++a) {
        Vec fa = s[a].frac;
        for (int k = 0; k < 3; ++k)
            if (s.pbc()[static_cast<std::size_t>(k)]) fa[k] -= std::floor(fa[k]);
        const Vec ra = LT * fa;
        for (int i = -n[0]; i <= n[0]; ++i)
            for (int j = -n[1]; j <= n[1]; ++j)
                for (int k = -n[2]; k <= n[2]; ++k) {
                    const Vec r = ra + LT * Vec(i, j, k) - home;
                    const double d = r.norm();
                    if (d <= cutoff) out.push_back({a, r, d});
                }
    }
    std::sort(out.begin(), out.end(), [](const Neighbour& x, const Neighbour& y) { return x.dist < y.dist; });
    return out;
}

Vec wrap_frac(const Structure& s, Vec f) {
    for (int k = 0; k < 3; ++k)
        if (s.pbc()[static_cast<std::size_t>(k)]) {
            f[k] -= std::floor(f[k]);
            if (f[k] >= 1.0) f[k] = 0.0;
        }
    return f;
}

// ---------------------------------------------------------------------------------------------
// Voronoi cell of one atom: a convex polyhedron (atom at the origin) cut by bisector planes

struct Polygon {
    int plane;                ///< index of the neighbour whose bisector this face lies on; < 0: box face
    std::vector<Vec> v;       ///< vertices in cyclic order
};

class VoronoiCell {
public:
    explicit VoronoiCell(double half) : half_(half) {
        // The starting cube; its faces are planes -1..-6 and its vertices are not Voronoi vertices.
        const double h = half;
        const std::array<Vec, 8> c{Vec(-h, -h, -h), Vec(h, -h, -h), Vec(h, h, -h), Vec(-h, h, -h),
                                   Vec(-h, -h, h),  Vec(h, -h, h),  Vec(h, h, h),  Vec(-h, h, h)};
        const int quads[6][4] = {{0, 3, 2, 1}, {4, 5, 6, 7}, {0, 1, 5, 4}, {2, 3, 7, 6}, {1, 2, 6, 5}, {0, 4, 7, 3}};
        for (int f = 0; f < 6; ++f)
            faces_.push_back({-1 - f, {c[quads[f][0]], c[quads[f][1]], c[quads[f][2]], c[quads[f][3]]}});
    }

    /// Keeps the part with n·x <= d (n a unit vector); the new face gets plane `id`.
    void clip(const Vec& n, double d, int id) {
        bool cuts = false;
        for (const auto& f : faces_)
            for (const auto& p : f.v)
                if (n.dot(p) - d > kPlaneEps) cuts = true;
        if (!cuts) return;
        std::vector<Polygon> kept;
        std::vector<Vec> cap;
        for (const auto& f : faces_) {
            Polygon out{f.plane, {}};
            const std::size_t m = f.v.size();
            for (std::size_t k = 0; k < m; ++k) {
                const Vec& p = f.v[k];
                const Vec& q = f.v[(k + 1) % m];
                const double sp = n.dot(p) - d, sq = n.dot(q) - d;
                if (sp <= kPlaneEps) {
                    push_unique(out.v, p);
                    if (sp >= -kPlaneEps) cap.push_back(p);
                }
                if ((sp < -kPlaneEps && sq > kPlaneEps) || (sp > kPlaneEps && sq < -kPlaneEps)) {
                    const Vec x = p + (q - p) * (sp / (sp - sq));
                    push_unique(out.v, x);
                    cap.push_back(x);
                }
            }
            if (out.v.size() >= 2 && (out.v.front() - out.v.back()).norm() < kPlaneEps) out.v.pop_back();
            if (out.v.size() >= 3) kept.push_back(std::move(out));
        }
        // The new face: the points on the plane, ordered by angle around their centroid.
        std::vector<Vec> pts;
        for (const auto& p : cap) push_unique_any(pts, p);
        if (pts.size() >= 3) {
            Vec centroid = Vec::Zero();
            for (const auto& p : pts) centroid += p;
            centroid /= static_cast<double>(pts.size());
            Vec u = (pts[0] - centroid);
            u -= n * n.dot(u);
            u.normalize();
            const Vec w = n.cross(u);
            std::sort(pts.begin(), pts.end(), [&](const Vec& a, const Vec& b) {
                return std::atan2((a - centroid).dot(w), (a - centroid).dot(u)) <
                       std::atan2((b - centroid).dot(w), (b - centroid).dot(u));
            });
            kept.push_back({id, std::move(pts)});
        }
        faces_ = std::move(kept);
    }

    double max_vertex_norm() const {
        double m = 0;
        for (const auto& f : faces_)
            for (const auto& p : f.v) m = std::max(m, p.norm());
        return m;
    }

    /// A vertex of the starting cube's faces is an artefact of the bounded search, not a vertex.
    bool on_box(const Vec& p) const { return p.cwiseAbs().maxCoeff() > half_ - 10 * kPlaneEps; }

    const std::vector<Polygon>& faces() const { return faces_; }

private:
    static void push_unique(std::vector<Vec>& v, const Vec& p) {
        if (v.empty() || (v.back() - p).norm() > kPlaneEps) v.push_back(p);
    }
    static void push_unique_any(std::vector<Vec>& v, const Vec& p) {
        for (const auto& q : v)
            if ((q - p).norm() <= 10 * kPlaneEps) return;
        v.push_back(p);
    }
    double half_;
    std::vector<Polygon> faces_;
};

// ---------------------------------------------------------------------------------------------
// Candidates: filter, merge, symmetry

/// Minimum-image distances between fractional points, with the lattice translations worth
/// trying precomputed (Structure::minimum_image recomputes them per call; merging calls this
/// millions of times).
class MinImage {
public:
    explicit MinImage(const Structure& s) : s_(s), LT_(s.lattice().transpose()) {
        for (int i = -1; i <= 1; ++i)
            for (int j = -1; j <= 1; ++j)
                for (int k = -1; k <= 1; ++k) {
                    if ((i && !s.pbc()[0]) || (j && !s.pbc()[1]) || (k && !s.pbc()[2])) continue;
                    shifts_.push_back(LT_ * Vec(i, j, k));
                }
    }
    double distance(const Vec& a, const Vec& b) const {
        Vec d = b - a;
        for (int k = 0; k < 3; ++k)
            if (s_.pbc()[static_cast<std::size_t>(k)]) d[k] -= std::round(d[k]);
        const Vec c = LT_ * d;
        double best = c.squaredNorm();
        for (const auto& t : shifts_) best = std::min(best, (c + t).squaredNorm());
        return std::sqrt(best);
    }

private:
    const Structure& s_;
    Eigen::Matrix3d LT_;
    std::vector<Vec> shifts_;
};

struct Candidate {
    Vec frac;
    double radius;
    bool face_centre;
};

/// Distance (Å) from a point to the nearest atom, over all periodic images.
double nearest_atom_distance(const Structure& s, const Vec& frac, double guess) {
    const Vec cart = s.to_cartesian(frac);
    for (double cutoff = std::max(guess, 1.0) * 1.5;; cutoff *= 2) {
        const auto nb = neighbours_of(s, cart, cutoff);
        if (!nb.empty()) return nb.front().dist;
        if (cutoff > 1e4) return std::numeric_limits<double>::infinity();
    }
}

/// Single-linkage clusters of candidates closer than `tol` Å (minimum image); each becomes the
/// mean of its members, taken around the first member so that a cluster across the cell
/// boundary averages correctly.
std::vector<Candidate> merge_candidates(const Structure& s, const std::vector<Candidate>& in, double tol) {
    const std::size_t m = in.size();
    std::vector<std::size_t> parent(m);
    std::iota(parent.begin(), parent.end(), 0);
    auto find = [&](std::size_t x) {
        while (parent[x] != x) x = parent[x] = parent[parent[x]];
        return x;
    };
    const MinImage mic(s);
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = i + 1; j < m; ++j)
            if (mic.distance(in[i].frac, in[j].frac) < tol) parent[find(i)] = find(j);
    std::map<std::size_t, std::vector<std::size_t>> clusters;
    for (std::size_t i = 0; i < m; ++i) clusters[find(i)].push_back(i);
    std::vector<Candidate> out;
    for (const auto& [root, members] : clusters) {
        const Vec f0 = in[members[0]].frac;
        Vec sum = Vec::Zero();
        bool face = true;
        for (std::size_t i : members) {
            sum += s.to_fractional(s.minimum_image(f0, in[i].frac));
            face = face && in[i].face_centre;
        }
        const Vec f = wrap_frac(s, f0 + sum / static_cast<double>(members.size()));
        out.push_back({f, nearest_atom_distance(s, f, in[members[0]].radius), face});
    }
    return out;
}

using Ops = std::vector<std::pair<Eigen::Matrix3i, Vec>>;

Ops symmetry_ops(const Structure& s, double symprec) {
    Ops ops;
    try {
        const auto ds = analyze_symmetry(s, symprec);
        for (std::size_t k = 0; k < ds.rotations.size(); ++k) ops.emplace_back(ds.rotations[k], ds.translations[k]);
    } catch (const StructureError&) {
        // No symmetry found (spglib failure): sites are unique up to the identity only.
    }
    if (ops.empty()) ops.emplace_back(Eigen::Matrix3i::Identity(), Vec::Zero());
    return ops;
}

/// The orbit of a point: its images under `ops`, wrapped and deduplicated within `tol` Å.
std::vector<Vec> orbit_of(const Structure& s, const Vec& frac, const Ops& ops, double tol) {
    std::vector<Vec> orbit;
    for (const auto& [R, t] : ops) {
        const Vec p = wrap_frac(s, R.cast<double>() * frac + t);
        bool dup = false;
        for (const auto& q : orbit)
            if (s.minimum_image(p, q).norm() < tol) {
                dup = true;
                break;
            }
        if (!dup) orbit.push_back(p);
    }
    return orbit;
}

/// Shapes of the first shell recognised by angle: the sorted centre-neighbour angles of each
/// ideal polyhedron, compared within 20 degrees (the tetrahedral hole of bcc, 101.5° and 126.9°
/// instead of 109.5°, is still called tetrahedral).
std::string polyhedron_name(const std::vector<Vec>& shell) {
    auto angles = [](const std::vector<Vec>& dirs) {
        std::vector<double> a;
        for (std::size_t i = 0; i < dirs.size(); ++i)
            for (std::size_t j = i + 1; j < dirs.size(); ++j)
                a.push_back(std::acos(std::clamp(dirs[i].normalized().dot(dirs[j].normalized()), -1.0, 1.0)) * 180 / M_PI);
        std::sort(a.begin(), a.end());
        return a;
    };
    const std::vector<std::pair<std::string, std::vector<Vec>>> ideal = {
        {"tetrahedral", {Vec(1, 1, 1), Vec(1, -1, -1), Vec(-1, 1, -1), Vec(-1, -1, 1)}},
        {"octahedral", {Vec(1, 0, 0), Vec(-1, 0, 0), Vec(0, 1, 0), Vec(0, -1, 0), Vec(0, 0, 1), Vec(0, 0, -1)}},
        {"cubic", {Vec(1, 1, 1), Vec(1, 1, -1), Vec(1, -1, 1), Vec(1, -1, -1), Vec(-1, 1, 1), Vec(-1, 1, -1),
                   Vec(-1, -1, 1), Vec(-1, -1, -1)}},
    };
    const auto actual = angles(shell);
    for (const auto& [name, dirs] : ideal) {
        if (dirs.size() != shell.size()) continue;
        const auto want = angles(dirs);
        bool match = true;
        for (std::size_t k = 0; k < want.size(); ++k)
            if (std::abs(want[k] - actual[k]) > 20.0) match = false;
        if (match) return name;
    }
    return fmt::format("CN{}", shell.size());
}

/// Wyckoff letter of an orbit: spglib classifies the host plus the whole orbit as dummy atoms of
/// an element absent from the host (the orbit keeps every host operation, so the group is the
/// host's and the dummy atoms get the orbit's letter).
std::string wyckoff_of_orbit(const Structure& host, const std::vector<Vec>& orbit, double symprec) {
    const auto comp = host.composition();
    std::string dummy;
    for (const char* el : {"He", "Ne", "Ar", "Kr", "Xe", "Rn"})
        if (!comp.count(el)) {
            dummy = el;
            break;
        }
    if (dummy.empty()) return "";
    Structure s = host;
    for (const auto& p : orbit) s.add_atom(dummy, p);
    try {
        const auto ds = analyze_symmetry(s, symprec);
        return ds.wyckoffs.at(host.size());
    } catch (const StructureError&) {
        return "";
    }
}

/// Groups candidates into orbits of `ops`; with `wyckoff` the letters come from `host` (only
/// meaningful when `ops` are the host's full space group).
std::vector<InterstitialSite> reduce_by_symmetry(const Structure& host, std::vector<Candidate> cands, const Ops& ops,
                                                 const InterstitialSearch& search, bool wyckoff) {
    std::stable_sort(cands.begin(), cands.end(), [](const Candidate& a, const Candidate& b) { return a.radius > b.radius + 1e-9; });
    const double tol = search.merge_tolerance;
    std::vector<char> taken(cands.size(), 0);
    std::vector<InterstitialSite> out;
    for (std::size_t i = 0; i < cands.size(); ++i) {
        if (taken[i]) continue;
        const auto orbit = orbit_of(host, cands[i].frac, ops, tol);
        for (std::size_t j = i; j < cands.size(); ++j) {
            if (taken[j]) continue;
            for (const auto& p : orbit)
                if (host.minimum_image(p, cands[j].frac).norm() < tol) {
                    taken[j] = 1;
                    break;
                }
        }
        InterstitialSite site;
        // The representative is the orbit's lexicographically smallest position (to 1e-6), so
        // the answer does not depend on the order in which the tessellation found the copies.
        site.frac = *std::min_element(orbit.begin(), orbit.end(), [](const Vec& a, const Vec& b) {
            for (int k = 0; k < 3; ++k) {
                const long x = std::lround(a[k] * 1e6), y = std::lround(b[k] * 1e6);
                if (x != y) return x < y;
            }
            return false;
        });
        site.position = host.to_cartesian(site.frac);
        site.radius = cands[i].radius;
        site.multiplicity = static_cast<int>(orbit.size());
        site.face_centre = cands[i].face_centre;
        site.equivalent.push_back(site.frac);
        for (const auto& p : orbit)
            if (host.minimum_image(p, site.frac).norm() >= tol) site.equivalent.push_back(p);
        const auto shell = neighbours_of(host, site.position, site.radius * (1 + search.shell_tolerance) + 1e-6);
        std::map<std::string, int> counts;
        std::vector<Vec> dirs;
        for (const auto& nb : shell) {
            ++counts[host[nb.atom].species];
            dirs.push_back(nb.r);
        }
        site.coordination = static_cast<int>(shell.size());
        for (const auto& [sp, c] : counts) site.shell += c == 1 ? sp : fmt::format("{}{}", sp, c);
        site.polyhedron = polyhedron_name(dirs);
        if (wyckoff) site.wyckoff = wyckoff_of_orbit(host, orbit, search.symprec);
        out.push_back(std::move(site));
    }
    std::stable_sort(out.begin(), out.end(), [](const InterstitialSite& a, const InterstitialSite& b) {
        if (std::abs(a.radius - b.radius) > 1e-6) return a.radius > b.radius;
        return a.multiplicity < b.multiplicity;
    });
    return out;
}

void check_search(const InterstitialSearch& s, const std::string& source) {
    auto positive = [&](double v, const char* field) {
        if (!(v > 0) || !std::isfinite(v))
            throw InputError(source, field, fmt::format("must be a positive number of Å, got {}", v));
    };
    positive(s.max_radius, "max_radius");
    positive(s.merge_tolerance, "merge_tolerance");
    positive(s.symprec, "symprec");
    if (!(s.min_distance >= 0) || !std::isfinite(s.min_distance))
        throw InputError(source, "min_distance", fmt::format("must be >= 0 Å, got {}", s.min_distance));
    if (!(s.shell_tolerance >= 0)) throw InputError(source, "shell_tolerance", "must be >= 0");
}

/// Voronoi candidates with radius >= min_distance, merged.
std::vector<Candidate> candidates(const Structure& s, const InterstitialSearch& search) {
    std::vector<Candidate> raw;
    for (const auto& p : voronoi_points(s, search.max_radius, search.face_centres))
        if (p.radius >= search.min_distance) raw.push_back({p.frac, p.radius, p.face_centre});
    auto merged = merge_candidates(s, raw, search.merge_tolerance);
    // Merging moves points; drop those that came too close to an atom.
    std::vector<Candidate> out;
    for (auto& c : merged)
        if (c.radius >= search.min_distance) out.push_back(c);
    return out;
}

}  // namespace

std::vector<VoronoiPoint> voronoi_points(const Structure& s, double max_radius, bool face_centres) {
    if (s.size() == 0) throw StructureError("Voronoi analysis needs at least one atom");
    if (!(max_radius > 0) || !std::isfinite(max_radius))
        throw StructureError(fmt::format("Voronoi analysis: max_radius must be positive, got {}", max_radius));
    // The starting cube has half-size max_radius: a real vertex farther than that from its atom
    // is not wanted, and planes of neighbours beyond twice the farthest vertex cannot cut.
    const double half = max_radius * 1.0001;
    const double cutoff = 2 * std::sqrt(3.0) * half;
    std::vector<VoronoiPoint> out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const Vec ri = s.cartesian(i);
        const auto nb = neighbours_of(s, ri, cutoff);
        VoronoiCell cell(half);
        for (std::size_t k = 0; k < nb.size(); ++k) {
            if (nb[k].dist < 1e-6) continue;  // the atom itself (or an exact duplicate)
            if (nb[k].dist / 2 > cell.max_vertex_norm() + kPlaneEps) break;
            cell.clip(nb[k].r / nb[k].dist, nb[k].dist / 2, static_cast<int>(k));
        }
        std::vector<Vec> seen;
        for (const auto& f : cell.faces()) {
            bool closed = f.plane >= 0;
            Vec centre = Vec::Zero();
            for (const auto& v : f.v) {
                centre += v;
                if (cell.on_box(v)) {
                    closed = false;
                    continue;
                }
                if (v.norm() > max_radius) continue;
                if (std::any_of(seen.begin(), seen.end(), [&](const Vec& q) { return (q - v).norm() < 1e-5; })) continue;
                seen.push_back(v);
                out.push_back({wrap_frac(s, s.to_fractional(ri + v)), v.norm(), false});
            }
            if (face_centres && closed) {
                centre /= static_cast<double>(f.v.size());
                if (centre.norm() <= max_radius) out.push_back({wrap_frac(s, s.to_fractional(ri + centre)), centre.norm(), true});
            }
        }
    }
    return out;
}

std::vector<InterstitialSite> find_interstitial_sites(const Structure& host, const InterstitialSearch& search) {
    if (host.size() == 0) throw StructureError("cannot find interstitial sites in an empty structure");
    check_search(search, "interstitial search");
    auto sites = reduce_by_symmetry(host, candidates(host, search), symmetry_ops(host, search.symprec), search, true);
    for (std::size_t k = 0; k < sites.size(); ++k) sites[k].name = fmt::format("i{}", k + 1);
    return sites;
}

char interface_side(const Atom& a) {
    const std::string& l = a.label;
    if (l.empty() || (l[0] != 'A' && l[0] != 'B')) return 0;
    if (l.size() > 1 && std::isalpha(static_cast<unsigned char>(l[1]))) return 0;  // "Al", "Br": not a side tag
    return l[0];
}

std::vector<InterfacePlane> interface_planes(const Structure& iface, double max_gap) {
    if (iface.size() == 0) throw StructureError("an interface needs atoms");
    const Eigen::Matrix3d& L = iface.lattice();
    Vec n = L.row(0).transpose().cross(L.row(1).transpose()).normalized();
    double period = n.dot(L.row(2).transpose());
    if (period < 0) {
        n = -n;
        period = -period;
    }
    struct Item {
        double h;
        char side;
    };
    std::vector<Item> items;
    bool has_a = false, has_b = false;
    for (std::size_t i = 0; i < iface.size(); ++i) {
        const char side = interface_side(iface[i]);
        if (!side)
            throw StructureError(fmt::format("interface: atom {} ({}) has no side tag (label '{}'; expected \"A\" or \"B\")",
                                             i + 1, iface[i].species, iface[i].label));
        has_a |= side == 'A';
        has_b |= side == 'B';
        double h = n.dot(iface.cartesian(i));
        if (iface.pbc()[2]) h -= period * std::floor(h / period);
        items.push_back({h, side});
    }
    if (!has_a || !has_b) throw StructureError("interface: atoms of both sides A and B are needed");
    std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return a.h < b.h; });
    std::vector<InterfacePlane> planes;
    const std::size_t m = items.size();
    const std::size_t pairs = iface.pbc()[2] ? m : m - 1;
    for (std::size_t k = 0; k < pairs; ++k) {
        const Item& lo = items[k];
        const Item& hi = items[(k + 1) % m];
        if (lo.side == hi.side) continue;
        const double top = (k + 1 == m) ? hi.h + period : hi.h;
        const double gap = top - lo.h;
        if (gap > max_gap) continue;
        double h = 0.5 * (lo.h + top);
        if (iface.pbc()[2]) h -= period * std::floor(h / period);
        planes.push_back({h, lo.side, gap});
    }
    if (planes.empty())
        throw StructureError(fmt::format("interface: no plane where side A meets side B within {} Å along the normal", max_gap));
    std::sort(planes.begin(), planes.end(), [](const InterfacePlane& a, const InterfacePlane& b) { return a.height < b.height; });
    return planes;
}

std::vector<InterfaceSite> find_interface_sites(const Structure& iface, const InterfaceSiteSearch& search) {
    check_search(search.interstitial, "interface site search");
    if (!(search.depth > 0)) throw InputError("interface site search", "depth", fmt::format("must be positive, got {}", search.depth));
    if (!(search.plane_tolerance >= 0))
        throw InputError("interface site search", "plane_tolerance", fmt::format("must be >= 0, got {}", search.plane_tolerance));
    const auto planes = interface_planes(iface, search.max_gap);
    const Eigen::Matrix3d& L = iface.lattice();
    Vec n = L.row(0).transpose().cross(L.row(1).transpose()).normalized();
    double period = n.dot(L.row(2).transpose());
    if (period < 0) {
        n = -n;
        period = -period;
    }
    // Signed distance of a point from plane p, wrapped along the normal when c is periodic.
    auto height_from = [&](const Vec& frac, const InterfacePlane& p) {
        double d = n.dot(iface.to_cartesian(frac)) - p.height;
        if (iface.pbc()[2]) d -= period * std::round(d / period);
        return d;
    };

    // Operations that keep every atom on its side (and so map interface planes onto planes).
    Ops ops;
    for (const auto& [R, t] : symmetry_ops(iface, search.interstitial.symprec)) {
        bool keeps = true;
        for (std::size_t i = 0; i < iface.size() && keeps; ++i) {
            const Vec p = R.cast<double>() * iface[i].frac + t;
            bool found = false;
            for (std::size_t j = 0; j < iface.size() && !found; ++j)
                found = iface[j].species == iface[i].species && interface_side(iface[j]) == interface_side(iface[i]) &&
                        iface.minimum_image(p, iface[j].frac).norm() < 10 * search.interstitial.symprec;
            keeps = found;
        }
        if (keeps) ops.emplace_back(R, t);
    }
    if (ops.empty()) ops.emplace_back(Eigen::Matrix3i::Identity(), Vec::Zero());

    std::vector<Candidate> near;
    for (const auto& c : candidates(iface, search.interstitial)) {
        double best = 1e300;
        for (const auto& p : planes) best = std::min(best, std::abs(height_from(c.frac, p)));
        if (best <= search.depth) near.push_back(c);
    }
    std::vector<InterfaceSite> out;
    for (auto& site : reduce_by_symmetry(iface, near, ops, search.interstitial, false)) {
        InterfaceSite is;
        std::size_t best = 0;
        for (std::size_t k = 1; k < planes.size(); ++k)
            if (std::abs(height_from(site.frac, planes[k])) < std::abs(height_from(site.frac, planes[best]))) best = k;
        is.plane = static_cast<int>(best);
        const double h = height_from(site.frac, planes[best]);
        const char below = planes[best].below, above = below == 'A' ? 'B' : 'A';
        is.side = std::abs(h) < search.plane_tolerance ? 'I' : h < 0 ? below : above;
        // Heights count positive towards B whichever way the plane is stacked.
        is.height = below == 'A' ? h : -h;
        is.site = std::move(site);
        out.push_back(std::move(is));
    }
    auto rank = [](char side) { return side == 'A' ? 0 : side == 'B' ? 1 : 2; };
    std::stable_sort(out.begin(), out.end(), [&](const InterfaceSite& a, const InterfaceSite& b) {
        if (a.side != b.side) return rank(a.side) < rank(b.side);
        return std::abs(a.height) < std::abs(b.height);
    });
    std::map<char, int> count;
    for (auto& s : out) s.site.name = fmt::format("{}{}", s.side, ++count[s.side]);
    return out;
}

}  // namespace interphase::structures
