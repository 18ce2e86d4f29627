#include "structures/neb_path.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <limits>

#include "common/errors.hpp"
#include "common/text.hpp"
#include "structures/symmetry.hpp"

namespace interphase::structures {
namespace {

using Vec = Eigen::Vector3d;

/// Minimum-image vectors between Cartesian points of one cell, the lattice translations worth
/// trying precomputed (the IDPP band asks for millions of them).
class Mic {
public:
    explicit Mic(const Structure& s) : pbc_(s.pbc()), LT_(s.lattice().transpose()), inv_(LT_.inverse()) {
        for (int i = -1; i <= 1; ++i)
            for (int j = -1; j <= 1; ++j)
                for (int k = -1; k <= 1; ++k) {
                    if ((i && !pbc_[0]) || (j && !pbc_[1]) || (k && !pbc_[2])) continue;
                    if (i || j || k) shifts_.push_back(LT_ * Vec(i, j, k));
                }
    }
    /// The shortest periodic image of the Cartesian vector v.
    Vec operator()(const Vec& v) const {
        Vec f = inv_ * v;
        for (int k = 0; k < 3; ++k)
            if (pbc_[static_cast<std::size_t>(k)]) f[k] -= std::round(f[k]);
        Vec best = LT_ * f;
        double bn = best.squaredNorm();
        const Vec base = best;
        for (const auto& t : shifts_) {
            const Vec c = base + t;
            if (const double n = c.squaredNorm(); n < bn) {
                bn = n;
                best = c;
            }
        }
        return best;
    }
    /// Lengths of the shortest and the second-shortest image of v: a displacement is ambiguous
    /// when they (nearly) tie, i.e. when the end point sits halfway between two images.
    std::pair<double, double> two_shortest(const Vec& v) const {
        Vec f = inv_ * v;
        for (int k = 0; k < 3; ++k)
            if (pbc_[static_cast<std::size_t>(k)]) f[k] -= std::round(f[k]);
        double d1 = std::numeric_limits<double>::infinity(), d2 = d1;
        const int r = 2;
        for (int i = -r; i <= r; ++i)
            for (int j = -r; j <= r; ++j)
                for (int k = -r; k <= r; ++k) {
                    if ((i && !pbc_[0]) || (j && !pbc_[1]) || (k && !pbc_[2])) continue;
                    const double n = (LT_ * (f + Vec(i, j, k))).norm();
                    if (n < d1) {
                        d2 = d1;
                        d1 = n;
                    } else if (n < d2) {
                        d2 = n;
                    }
                }
        return {d1, d2};
    }

private:
    std::array<bool, 3> pbc_;
    Eigen::Matrix3d LT_, inv_;
    std::vector<Vec> shifts_;
};

Vec wrap(const Structure& s, Vec f) {
    for (int k = 0; k < 3; ++k)
        if (s.pbc()[static_cast<std::size_t>(k)]) {
            f[k] -= std::floor(f[k]);
            if (f[k] >= 1.0) f[k] = 0.0;
        }
    return f;
}

/// Throws StructureError when the hop from `from` to `to` (fractional) is ambiguous in `s`.
double checked_hop_length(const Structure& s, const Vec& from, const Vec& to, double margin, const std::string& what) {
    const Mic mic(s);
    const auto [d1, d2] = mic.two_shortest(s.to_cartesian(to - from));
    if (d1 < 1e-6) throw StructureError(fmt::format("{}: start and end coincide (the hop is a lattice translation "
                                                    "of this cell; use a larger cell)", what));
    if (d2 - d1 < margin)
        throw StructureError(fmt::format("{}: the hop of {:.3f} Å is ambiguous: another periodic image of the end point "
                                         "is {:.3f} Å away; use a larger cell (repeat_cell / --supercell)",
                                         what, d1, d2));
    return d1;
}

}  // namespace

Structure repeat_cell(const Structure& s, const std::array<int, 3>& n) {
    for (int k = 0; k < 3; ++k)
        if (n[static_cast<std::size_t>(k)] < 1 || n[static_cast<std::size_t>(k)] > 20)
            throw InputError("supercell", "abc"[k] + std::string(" repeats"),
                             fmt::format("must be 1..20, got {}", n[static_cast<std::size_t>(k)]));
    Eigen::Matrix3d L = s.lattice();
    for (int k = 0; k < 3; ++k) L.row(k) *= n[static_cast<std::size_t>(k)];
    Structure out(L, s.pbc());
    out.title = s.title;
    out.info = s.info;
    if (out.info.is_object()) out.info["supercell"] = {n[0], n[1], n[2]};
    for (int i = 0; i < n[0]; ++i)
        for (int j = 0; j < n[1]; ++j)
            for (int k = 0; k < n[2]; ++k)
                for (const auto& a : s.atoms()) {
                    Atom b = a;
                    b.frac = (a.frac + Vec(i, j, k)).cwiseQuotient(Vec(n[0], n[1], n[2]));
                    out.atoms().push_back(b);
                }
    return out;
}

HopEndpoints site_hop(const Structure& host, const Vec& from, const Vec& to, const std::string& species,
                      double image_margin) {
    HopEndpoints h;
    h.distance = checked_hop_length(host, from, to, image_margin, fmt::format("{} hop", species));
    h.initial = host;
    h.final = host;
    Atom& a = h.initial.add_atom(species, wrap(host, from));
    a.label = "mobile";
    Atom& b = h.final.add_atom(species, wrap(host, to));
    b.label = "mobile";
    h.moving_atom = host.size();
    h.kind = "site";
    h.description = fmt::format("{} from ({:.4f}, {:.4f}, {:.4f}) to ({:.4f}, {:.4f}, {:.4f}), {:.3f} Å", species,
                                from[0], from[1], from[2], to[0], to[1], to[2], h.distance);
    return h;
}

std::vector<HopEndpoints> vacancy_hops(const Structure& bulk, const HopSearch& hop) {
    const auto sites = find_vacancy_sites(bulk, hop.species, hop.symprec);
    const auto ds = analyze_symmetry(bulk, hop.symprec);
    const Mic mic(bulk);
    const Eigen::Matrix3d LT = bulk.lattice().transpose();
    std::vector<HopEndpoints> out;
    for (const auto& site : sites) {
        const std::size_t i = site.atom;
        struct Cand {
            std::size_t j;
            Vec dv;  // fractional hop vector (to the nearest image of j)
            double d;
        };
        std::vector<Cand> cands;
        double dmin = std::numeric_limits<double>::infinity();
        for (std::size_t j = 0; j < bulk.size(); ++j) {
            if (j == i || bulk[j].species != hop.species) continue;
            const Vec v = mic(bulk.cartesian(j) - bulk.cartesian(i));
            cands.push_back({j, bulk.to_fractional(v), v.norm()});
            dmin = std::min(dmin, v.norm());
        }
        if (cands.empty())
            throw StructureError(fmt::format("vacancy hop: the cell holds a single {} atom, which cannot hop into its own "
                                             "vacancy; use a larger cell (repeat_cell / --supercell)", hop.species));
        const double range = hop.max_hop > 0 ? hop.max_hop : dmin + hop.shell_tolerance;
        // Operations that keep atom i in place (up to a lattice translation): they map hops
        // from i onto hops from i, so hops related by one of them are the same hop.
        std::vector<Eigen::Matrix3d> stabiliser;
        for (std::size_t k = 0; k < ds.rotations.size(); ++k) {
            const Vec p = ds.rotations[k].cast<double>() * bulk[i].frac + ds.translations[k];
            if (mic(LT * (p - bulk[i].frac)).norm() < 10 * hop.symprec) stabiliser.push_back(ds.rotations[k].cast<double>());
        }
        std::vector<Cand> distinct;
        std::sort(cands.begin(), cands.end(), [](const Cand& a, const Cand& b) { return a.d < b.d; });
        for (const auto& c : cands) {
            if (c.d > range) break;
            bool seen = false;
            for (const auto& d : distinct)
                for (const auto& R : stabiliser)
                    if ((LT * (R * d.dv - c.dv)).norm() < 10 * hop.symprec + 1e-6) seen = true;
            if (!seen) distinct.push_back(c);
        }
        for (const auto& c : distinct) {
            HopEndpoints h;
            const std::string what = fmt::format("vacancy hop of {} atom {} to atom {}", hop.species, i + 1, c.j + 1);
            h.distance = checked_hop_length(bulk, bulk[i].frac, bulk[i].frac + c.dv, hop.image_margin, what);
            h.initial = bulk;
            h.initial.atoms().erase(h.initial.atoms().begin() + static_cast<std::ptrdiff_t>(c.j));
            h.moving_atom = i - (i > c.j ? 1 : 0);
            h.final = h.initial;
            h.final[h.moving_atom].frac = wrap(bulk, bulk[i].frac + c.dv);
            h.kind = "vacancy";
            h.description = fmt::format("{} atom {} (Wyckoff {}, {} in the cell) -> vacancy at atom {}, {:.3f} Å",
                                        hop.species, i + 1, site.wyckoff, site.multiplicity, c.j + 1, h.distance);
            for (auto* s : {&h.initial, &h.final})
                if (s->info.is_object())
                    s->info["hop"] = {{"kind", "vacancy"}, {"moving_atom", h.moving_atom}, {"vacancy_of_atom", c.j},
                                      {"distance", h.distance}};
            out.push_back(std::move(h));
        }
    }
    return out;
}

std::vector<HopEndpoints> interstitial_hops(const Structure& host, const InterstitialSearch& search, const HopSearch& hop) {
    const auto sites = find_interstitial_sites(host, search);
    const Mic mic(host);
    std::vector<HopEndpoints> out;
    for (const auto& site : sites) {
        // The nearest copy of the site other than itself (its own images in neighbouring cells
        // count, and then the hop is ambiguous unless the cell is large along that direction).
        double best = std::numeric_limits<double>::infinity();
        Vec to = site.frac;
        for (const auto& q : site.equivalent) {
            const Vec v = mic(host.to_cartesian(q - site.frac));
            double d = v.norm();
            if (d < 1e-6) {
                // The site itself: its nearest image is one lattice vector away.
                double shortest = std::numeric_limits<double>::infinity();
                Vec shortest_v = Vec::Zero();
                for (int i = -1; i <= 1; ++i)
                    for (int j = -1; j <= 1; ++j)
                        for (int k = -1; k <= 1; ++k) {
                            if ((!i && !j && !k) || (i && !host.pbc()[0]) || (j && !host.pbc()[1]) || (k && !host.pbc()[2])) continue;
                            const Vec t = host.lattice().transpose() * Vec(i, j, k);
                            if (t.norm() < shortest) {
                                shortest = t.norm();
                                shortest_v = Vec(i, j, k);
                            }
                        }
                if (shortest < best - 1e-9) {
                    best = shortest;
                    to = site.frac + shortest_v;
                }
                continue;
            }
            if (d < best - 1e-9) {
                best = d;
                to = site.frac + host.to_fractional(v);
            }
        }
        HopEndpoints h = site_hop(host, site.frac, to, hop.species, hop.image_margin);
        h.kind = "interstitial";
        h.description = fmt::format("{} between {} sites {} (Wyckoff {}, {} in the cell, shell {}), {:.3f} Å", hop.species,
                                    site.polyhedron, site.name, site.wyckoff, site.multiplicity, site.shell, h.distance);
        for (auto* s : {&h.initial, &h.final})
            if (s->info.is_object())
                s->info["hop"] = {{"kind", "interstitial"}, {"site", site.name}, {"moving_atom", h.moving_atom},
                                  {"distance", h.distance}};
        out.push_back(std::move(h));
    }
    return out;
}

HopEndpoints adsorbate_hop(const Structure& slab, const AdsorptionSite& site, const std::string& species, double height,
                           double image_margin) {
    const Mic mic(slab);
    const Vec p0 = site.position;
    double best = std::numeric_limits<double>::infinity();
    std::size_t copy = 0;
    for (std::size_t q = 1; q < site.equivalent_positions.size(); ++q) {
        const double d = mic(site.equivalent_positions[q] - p0).norm();
        if (d < best - 1e-9) {
            best = d;
            copy = q;
        }
    }
    const std::string what = fmt::format("{} hop between {} sites", species, site.name);
    if (copy == 0)
        throw StructureError(fmt::format("{}: the site has a single copy in this cell, so the nearest equivalent site is "
                                         "its own periodic image; use a larger surface cell (--supercell)", what));
    HopEndpoints h;
    h.initial = add_adsorbate(slab, site, species, height, 0);
    h.final = add_adsorbate(slab, site, species, height, copy);
    h.moving_atom = slab.size();
    h.distance = checked_hop_length(h.initial, h.initial[h.moving_atom].frac, h.final[h.moving_atom].frac, image_margin, what);
    h.initial[h.moving_atom].label = h.final[h.moving_atom].label = "mobile";
    h.kind = "adsorbate";
    h.description = fmt::format("{} adatom between {} sites on the {} face, {:.3f} Å", species, site.name,
                                to_string(site.face), h.distance);
    return h;
}

const char* to_string(PathMethod m) { return m == PathMethod::Linear ? "linear" : "idpp"; }

PathMethod parse_path_method(const std::string& text, const std::string& source) {
    const std::string t = text::to_lower(text);
    if (t == "linear") return PathMethod::Linear;
    if (t == "idpp") return PathMethod::Idpp;
    throw InputError(source, "method", text::unknown_name_message("path method", text, {"linear", "idpp"}));
}

namespace {

/// The IDPP band: interior images relaxed by MDMin under NEB forces of the image-dependent pair
/// potential, step for step as ase.neb.idpp_interpolate (ASE 3.22) does it.
class IdppBand {
public:
    IdppBand(std::vector<std::vector<Vec>>& pos, const Structure& ref, const std::vector<char>& fixed, bool mic,
             const IdppOptions& o)
        : pos_(pos), fixed_(fixed), mic_(ref), use_mic_(mic), o_(o), n_(ref.size()), m_(pos.size()) {
        const auto& p0 = pos.front();
        const auto& p1 = pos.back();
        target0_.assign(n_ * n_, 0.0);
        target1_.assign(n_ * n_, 0.0);
        for (std::size_t i = 0; i < n_; ++i)
            for (std::size_t j = 0; j < n_; ++j) {
                target0_[i * n_ + j] = vec(p0[j] - p0[i]).norm();
                target1_[i * n_ + j] = vec(p1[j] - p1[i]).norm();
            }
    }

    /// Runs MDMin; returns (steps, converged, final fmax).
    std::tuple<int, bool, double> run() {
        std::vector<Vec> f = neb_forces();
        std::vector<Vec> v;
        int steps = 0;
        while (!converged(f) && steps < o_.max_steps) {
            // MDMin (ase.optimize.MDMin.step): velocities projected on the force, zeroed uphill.
            if (v.empty()) {
                v.assign(f.size(), Vec::Zero());
            } else {
                for (std::size_t k = 0; k < v.size(); ++k) v[k] += 0.5 * o_.dt * f[k];
                double vf = 0, ff = 0;
                for (std::size_t k = 0; k < v.size(); ++k) {
                    vf += v[k].dot(f[k]);
                    ff += f[k].dot(f[k]);
                }
                for (std::size_t k = 0; k < v.size(); ++k) v[k] = vf < 0.0 ? Vec::Zero() : Vec(f[k] * (vf / ff));
            }
            for (std::size_t k = 0; k < v.size(); ++k) v[k] += 0.5 * o_.dt * f[k];
            for (std::size_t img = 1; img + 1 < m_; ++img)
                for (std::size_t a = 0; a < n_; ++a) {
                    if (fixed_[a]) continue;  // FixAtoms: set_positions leaves them where they are
                    pos_[img][a] += o_.dt * v[(img - 1) * n_ + a];
                }
            ++steps;
            f = neb_forces();
        }
        return {steps, converged(f), std::sqrt(max_force2(f))};
    }

private:
    Vec vec(const Vec& d) const { return use_mic_ ? mic_(d) : d; }

    double max_force2(const std::vector<Vec>& f) const {
        double m = 0;
        for (const auto& x : f) m = std::max(m, x.squaredNorm());
        return m;
    }
    bool converged(const std::vector<Vec>& f) const { return max_force2(f) < o_.fmax * o_.fmax; }

    /// IDPP energy and forces of image `img` (ase.neb.IDPP.calculate).
    double image_forces(std::size_t img, std::vector<Vec>& f) const {
        const double x = static_cast<double>(img) / static_cast<double>(m_ - 1);
        const auto& p = pos_[img];
        f.assign(n_, Vec::Zero());
        double e = 0;
        for (std::size_t i = 0; i < n_; ++i)
            for (std::size_t j = i + 1; j < n_; ++j) {
                const Vec D = vec(p[j] - p[i]);
                const double d = D.norm();
                if (d < 1e-8)
                    throw StructureError(fmt::format("IDPP: atoms {} and {} coincide in image {:02d}; the linear start "
                                                     "puts them on top of each other (e.g. two atoms swapping places)",
                                                     i + 1, j + 1, img));
                const double t = target0_[i * n_ + j] + x * (target1_[i * n_ + j] - target0_[i * n_ + j]);
                const double dd = d - t;
                const double d4 = d * d * d * d;
                e += dd * dd / d4;
                const Vec g = -2.0 * dd * (1.0 - 2.0 * dd / d) / (d4 * d) * D;  // force on j; -g on i
                f[j] += g;
                f[i] -= g;
            }
        for (std::size_t a = 0; a < n_; ++a)
            if (fixed_[a]) f[a].setZero();
        return e;
    }

    /// NEB forces of the interior images, flattened (ase.neb.BaseNEB.get_forces, method 'aseneb').
    std::vector<Vec> neb_forces() const {
        std::vector<double> e(m_, 0.0);
        std::vector<std::vector<Vec>> f(m_);
        for (std::size_t img = 1; img + 1 < m_; ++img) e[img] = image_forces(img, f[img]);
        // The highest interior image; ties go to the later image as numpy's argsort()[-1] does.
        std::size_t imax = 1;
        for (std::size_t img = 1; img + 1 < m_; ++img)
            if (e[img] >= e[imax]) imax = img;
        // Springs always use the minimum image of the cell (ase.neb.Spring), whatever `mic` says.
        std::vector<std::vector<Vec>> t(m_ - 1, std::vector<Vec>(n_));
        for (std::size_t k = 0; k + 1 < m_; ++k)
            for (std::size_t a = 0; a < n_; ++a) t[k][a] = mic_(pos_[k + 1][a] - pos_[k][a]);
        std::vector<Vec> out((m_ - 2) * n_, Vec::Zero());
        for (std::size_t img = 1; img + 1 < m_; ++img) {
            const auto& t1 = t[img - 1];
            const auto& t2 = t[img];
            std::vector<Vec> tau(n_);
            for (std::size_t a = 0; a < n_; ++a)
                tau[a] = img < imax ? t2[a] : img > imax ? t1[a] : Vec(t1[a] + t2[a]);
            double tau2 = 0, ft = 0, st = 0;
            for (std::size_t a = 0; a < n_; ++a) {
                tau2 += tau[a].squaredNorm();
                ft += f[img][a].dot(tau[a]);
                st += (o_.spring * t1[a] - o_.spring * t2[a]).dot(tau[a]);
            }
            if (!(tau2 > 0))
                throw StructureError(fmt::format("IDPP: images {:02d} and its neighbours coincide (the end points are "
                                                 "the same structure)", img));
            for (std::size_t a = 0; a < n_; ++a)
                out[(img - 1) * n_ + a] = f[img][a] - (ft / tau2) * tau[a] - (st / tau2) * tau[a];
        }
        return out;
    }

    std::vector<std::vector<Vec>>& pos_;
    const std::vector<char>& fixed_;
    Mic mic_;
    bool use_mic_;
    IdppOptions o_;
    std::size_t n_, m_;
    std::vector<double> target0_, target1_;
};

}  // namespace

Path interpolate_path(const Structure& initial, const Structure& final, const PathOptions& o) {
    if (o.images < 1 || o.images > 98)
        throw InputError("path", "images", fmt::format("needs 1..98 intermediate images, got {}", o.images));
    if (o.method == PathMethod::Idpp) {
        if (!(o.idpp.fmax > 0)) throw InputError("path", "idpp fmax", fmt::format("must be positive, got {}", o.idpp.fmax));
        if (o.idpp.max_steps < 0) throw InputError("path", "idpp steps", fmt::format("must be >= 0, got {}", o.idpp.max_steps));
        if (!(o.idpp.dt > 0)) throw InputError("path", "idpp dt", fmt::format("must be positive, got {}", o.idpp.dt));
        if (!(o.idpp.spring > 0)) throw InputError("path", "idpp spring", fmt::format("must be positive, got {}", o.idpp.spring));
    }
    const std::size_t n = initial.size();
    if (n == 0) throw StructureError("path: the end points have no atoms");
    if (final.size() != n)
        throw StructureError(fmt::format("path: the initial end point has {} atoms, the final one {}", n, final.size()));
    const double scale = initial.lattice().rowwise().norm().maxCoeff();
    if ((initial.lattice() - final.lattice()).cwiseAbs().maxCoeff() > 1e-6 * std::max(1.0, scale))
        throw StructureError("path: the end points have different cells (variable-cell paths are not supported)");
    if (initial.pbc() != final.pbc()) throw StructureError("path: the end points have different periodic directions");
    const Mic mic(initial);
    std::vector<char> fixed(n, 0);
    std::vector<Vec> start(n), disp(n);
    bool moves = false;
    for (std::size_t a = 0; a < n; ++a) {
        if (initial[a].species != final[a].species)
            throw StructureError(fmt::format("path: atom {} is {} in the initial end point but {} in the final one "
                                             "(both end points need the same atom order)",
                                             a + 1, initial[a].species, final[a].species));
        start[a] = initial.cartesian(a);
        const Vec raw = final.cartesian(a) - start[a];
        disp[a] = o.mic ? mic(raw) : raw;
        if (o.mic) {
            const auto [d1, d2] = mic.two_shortest(raw);
            if (d2 - d1 < o.image_margin)
                throw StructureError(fmt::format("path: atom {} ({}) moves {:.3f} Å but another periodic image is "
                                                 "{:.3f} Å away: the direction is ambiguous; use a larger cell or "
                                                 "give unwrapped end points without the minimum-image convention",
                                                 a + 1, initial[a].species, d1, d2));
        }
        fixed[a] = initial[a].fixed || final[a].fixed;
        if (fixed[a] && disp[a].norm() > 1e-4)
            throw StructureError(fmt::format("path: atom {} ({}) is fixed but moves {:.4f} Å between the end points",
                                             a + 1, initial[a].species, disp[a].norm()));
        if (fixed[a]) disp[a].setZero();
        moves |= disp[a].norm() > 1e-6;
    }
    if (!moves) throw StructureError("path: the end points are the same structure (no atom moves)");

    const std::size_t m = static_cast<std::size_t>(o.images) + 2;
    std::vector<std::vector<Vec>> pos(m, std::vector<Vec>(n));
    for (std::size_t img = 0; img < m; ++img)
        for (std::size_t a = 0; a < n; ++a)
            pos[img][a] = start[a] + disp[a] * (static_cast<double>(img) / static_cast<double>(m - 1));
    // The last image is the final end point as given (ASE keeps images[-1]).
    for (std::size_t a = 0; a < n; ++a) pos[m - 1][a] = final.cartesian(a);

    Path path;
    path.method = o.method;
    if (o.method == PathMethod::Idpp) {
        IdppBand band(pos, initial, fixed, o.mic, o.idpp);
        std::tie(path.idpp_steps, path.idpp_converged, path.idpp_fmax) = band.run();
    }
    for (std::size_t img = 0; img < m; ++img) {
        if (img + 1 == m) {
            path.images.push_back(final);
            break;
        }
        Structure s = initial;
        if (img > 0)
            for (std::size_t a = 0; a < n; ++a) s[a].frac = initial.to_fractional(pos[img][a]);
        if (s.info.is_object()) s.info["neb_image"] = img;
        path.images.push_back(std::move(s));
    }
    if (path.images.back().info.is_object()) path.images.back().info["neb_image"] = m - 1;
    return path;
}

std::vector<ImageDistance> path_min_distances(const std::vector<Structure>& images) {
    std::vector<ImageDistance> out;
    for (std::size_t k = 0; k < images.size(); ++k) {
        const Structure& s = images[k];
        const Mic mic(s);
        ImageDistance d{k, std::numeric_limits<double>::infinity(), 0, 0};
        std::vector<Vec> cart(s.size());
        for (std::size_t i = 0; i < s.size(); ++i) cart[i] = s.cartesian(i);
        for (std::size_t i = 0; i < s.size(); ++i)
            for (std::size_t j = i + 1; j < s.size(); ++j)
                if (const double r = mic(cart[j] - cart[i]).norm(); r < d.min_distance) {
                    d.min_distance = r;
                    d.atom_a = i;
                    d.atom_b = j;
                }
        out.push_back(d);
    }
    return out;
}

void check_path_distances(const std::vector<Structure>& images, double threshold) {
    for (const auto& d : path_min_distances(images))
        if (d.min_distance < threshold) {
            const Structure& s = images[d.image];
            throw StructureError(fmt::format("image {:02d}: atoms {} ({}) and {} ({}) are {:.3f} Å apart (threshold {} Å)",
                                             d.image, d.atom_a + 1, s[d.atom_a].species, d.atom_b + 1,
                                             s[d.atom_b].species, d.min_distance, threshold));
        }
}

}  // namespace interphase::structures
