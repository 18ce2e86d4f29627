#include "structures/sites.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

#include "common/errors.hpp"
#include "common/text.hpp"
#include "structures/elements.hpp"
#include "structures/symmetry.hpp"

namespace interphase::structures {

const char* to_string(SiteKind k) {
    switch (k) {
        case SiteKind::Top: return "top";
        case SiteKind::Bridge: return "bridge";
        case SiteKind::Hollow: return "hollow";
    }
    return "?";
}

const char* to_string(Face f) { return f == Face::Top ? "top" : "bottom"; }

Face parse_face(const std::string& text, const std::string& source) {
    const std::string t = text::to_lower(text);
    if (t == "top") return Face::Top;
    if (t == "bottom") return Face::Bottom;
    throw InputError(source, "face", text::unknown_name_message("slab face", text, {"top", "bottom"}));
}

namespace {

// The 180° rotation about x: (x, y, z) -> (x, -y, -z). It turns a slab upside down while keeping
// fractional coordinates and the handedness of the cell (a mirror would make it left-handed), so
// the bottom face can be searched with the rules of the top face. It is its own inverse.
Eigen::Vector3d flip(const Eigen::Vector3d& v) { return {v[0], -v[1], -v[2]}; }

Structure upside_down(const Structure& s) {
    Structure out = s;
    Eigen::Matrix3d L = s.lattice();
    for (int r = 0; r < 3; ++r) L.row(r) = flip(L.row(r).transpose()).transpose();
    out.set_lattice(L, /*keep_cartesian=*/false);  // same fractional coordinates, rotated cell
    return out;
}

struct Image {
    std::size_t atom;
    Eigen::Vector3d r;  // Cartesian, including the in-plane lattice translation
};

// In-plane periodic images of the given atoms (3x3 block of cells).
std::vector<Image> images_of(const Structure& s, const std::vector<std::size_t>& atoms) {
    std::vector<Image> out;
    const Eigen::Vector3d a = s.lattice().row(0), b = s.lattice().row(1);
    for (int i = -1; i <= 1; ++i)
        for (int j = -1; j <= 1; ++j)
            for (auto k : atoms) out.push_back({k, s.cartesian(k) + i * a + j * b});
    return out;
}

// Fractional in-plane point wrapped into [0,1).
Eigen::Vector2d inplane_frac(const Structure& s, const Eigen::Vector3d& cart) {
    Eigen::Vector3d f = s.to_fractional(cart);
    return {f[0] - std::floor(f[0]), f[1] - std::floor(f[1])};
}

bool inside_cell(const Structure& s, const Eigen::Vector3d& cart) {
    const Eigen::Vector3d f = s.to_fractional(cart);
    return f[0] >= -1e-9 && f[0] < 1 - 1e-9 && f[1] >= -1e-9 && f[1] < 1 - 1e-9;
}

double inplane_distance(const Structure& s, const Eigen::Vector2d& fa, const Eigen::Vector2d& fb) {
    Eigen::Vector3d d(fb[0] - fa[0], fb[1] - fa[1], 0);
    d[0] -= std::round(d[0]);
    d[1] -= std::round(d[1]);
    double best = 1e300;
    for (int i = -1; i <= 1; ++i)
        for (int j = -1; j <= 1; ++j) {
            Eigen::Vector3d v = s.lattice().transpose() * (d + Eigen::Vector3d(i, j, 0));
            v[2] = 0;
            best = std::min(best, v.norm());
        }
    return best;
}

// The operations of a slab that keep its surface up — rotations about the normal and mirrors
// containing it, each with its in-plane translations (the pure ones of a supercell included) —
// as (R, t) on fractional coordinates, found directly: R from the in-plane lattice metric (the
// integer maps of a, b with entries within ±2 that keep every length and angle, c fixed), t
// from mapping one atom of the rarest species onto each of its kind, kept when every atom
// lands on an atom of its species within symprec Å. These are the operations of spglib's
// dataset with R(2,2) = 1 and no shift along the normal, which is all site grouping needs;
// spglib costs ~3 ms per call whatever the cell (its space-group identification), this
// microseconds, and build tasks call it once per slab.
std::vector<std::pair<Eigen::Matrix3i, Eigen::Vector3d>> surface_operations(const Structure& slab, double symprec) {
    std::vector<std::pair<Eigen::Matrix3i, Eigen::Vector3d>> ops;
    if (slab.size() == 0) return ops;
    const Eigen::Matrix3d L = slab.lattice();  // rows a, b, c
    const Eigen::Matrix3d G = L * L.transpose();
    const double la = L.row(0).norm(), lb = L.row(1).norm(), lc = L.row(2).norm();
    const double scale[3] = {la, lb, lc};
    std::vector<Eigen::Matrix3i> rotations;
    for (int r00 = -2; r00 <= 2; ++r00)
        for (int r01 = -2; r01 <= 2; ++r01)
            for (int r10 = -2; r10 <= 2; ++r10)
                for (int r11 = -2; r11 <= 2; ++r11) {
                    const int det = r00 * r11 - r01 * r10;
                    if (det != 1 && det != -1) continue;
                    Eigen::Matrix3i R;
                    R << r00, r01, 0, r10, r11, 0, 0, 0, 1;
                    // Lengths and angles kept: R^T G R = G (cart = L^T f).
                    const Eigen::Matrix3d Rd = R.cast<double>();
                    const Eigen::Matrix3d D = Rd.transpose() * G * Rd - G;
                    bool keeps = true;
                    for (int i = 0; i < 3 && keeps; ++i)
                        for (int j = 0; j < 3 && keeps; ++j) keeps = std::abs(D(i, j)) < symprec * (scale[i] + scale[j]);
                    if (keeps) rotations.push_back(R);
                }
    const auto comp = slab.composition();
    std::string rare = comp.begin()->first;
    for (const auto& [sp, n] : comp)
        if (n < comp.at(rare)) rare = sp;
    std::size_t first = 0;
    while (slab[first].species != rare) ++first;
    for (const auto& R : rotations) {
        const Eigen::Matrix3d Rd = R.cast<double>();
        const std::size_t before = ops.size();
        for (std::size_t j = 0; j < slab.size(); ++j) {
            if (slab[j].species != rare) continue;
            Eigen::Vector3d t = slab[j].frac - Rd * slab[first].frac;
            if (std::abs(t[2] - std::round(t[2])) * lc >= symprec) continue;  // not at the same height
            t[0] -= std::floor(t[0]);
            t[1] -= std::floor(t[1]);
            t[2] = 0;
            const bool seen = std::any_of(ops.begin() + static_cast<std::ptrdiff_t>(before), ops.end(), [&](const auto& op) {
                return inplane_distance(slab, op.second.template head<2>(), t.head<2>()) < symprec;
            });
            if (seen) continue;
            bool maps = true;
            for (std::size_t k = 0; k < slab.size() && maps; ++k) {
                const Eigen::Vector3d f = Rd * slab[k].frac + t;
                bool found = false;
                for (std::size_t m = 0; m < slab.size() && !found; ++m)
                    found = slab[m].species == slab[k].species && slab.minimum_image(slab[m].frac, f).norm() < symprec;
                maps = found;
            }
            if (maps) ops.emplace_back(R, t);
        }
    }
    return ops;
}

// Sites on the top face (+z) of `slab`.
std::vector<AdsorptionSite> top_face_sites(const Structure& slab, const SiteSearch& search) {
    std::vector<double> z(slab.size());
    for (std::size_t i = 0; i < slab.size(); ++i) z[i] = slab.cartesian(i)[2];
    const double ztop = *std::max_element(z.begin(), z.end());
    std::vector<std::size_t> surface, second;
    for (std::size_t i = 0; i < slab.size(); ++i)
        if (ztop - z[i] <= search.surface_tolerance) surface.push_back(i);
    double zsecond = -1e300;
    for (std::size_t i = 0; i < slab.size(); ++i)
        if (ztop - z[i] > search.surface_tolerance) zsecond = std::max(zsecond, z[i]);
    for (std::size_t i = 0; i < slab.size(); ++i)
        if (zsecond > -1e300 && zsecond - z[i] <= search.surface_tolerance && ztop - z[i] > search.surface_tolerance)
            second.push_back(i);

    const auto imgs = images_of(slab, surface);
    double dmin = 1e300;
    for (std::size_t i = 0; i < imgs.size(); ++i)
        for (std::size_t j = i + 1; j < imgs.size(); ++j) {
            Eigen::Vector3d d = imgs[j].r - imgs[i].r;
            d[2] = 0;
            if (d.norm() > 1e-6) dmin = std::min(dmin, d.norm());
        }
    const double dcut = dmin * search.neighbour_factor;
    auto lateral = [](const Eigen::Vector3d& a, const Eigen::Vector3d& b) {
        Eigen::Vector3d d = b - a;
        d[2] = 0;
        return d.norm();
    };

    std::vector<AdsorptionSite> raw;
    auto add = [&](SiteKind kind, Eigen::Vector3d pos, std::vector<std::size_t> atoms) {
        pos[2] = ztop;
        if (!inside_cell(slab, pos)) return;  // each site once: the copy inside the cell
        raw.push_back({kind, "", pos, std::move(atoms), 1, Face::Top, {}});
    };
    for (const auto& im : imgs)
        if (inside_cell(slab, im.r)) add(SiteKind::Top, im.r, {im.atom});
    for (std::size_t i = 0; i < imgs.size(); ++i)
        for (std::size_t j = i + 1; j < imgs.size(); ++j) {
            if (lateral(imgs[i].r, imgs[j].r) > dcut) continue;
            add(SiteKind::Bridge, 0.5 * (imgs[i].r + imgs[j].r), {imgs[i].atom, imgs[j].atom});
            for (std::size_t k = j + 1; k < imgs.size(); ++k)
                if (lateral(imgs[i].r, imgs[k].r) <= dcut && lateral(imgs[j].r, imgs[k].r) <= dcut)
                    add(SiteKind::Hollow, (imgs[i].r + imgs[j].r + imgs[k].r) / 3.0,
                        {imgs[i].atom, imgs[j].atom, imgs[k].atom});
        }
    // Four-fold hollows of square and rectangular faces (fcc (100), (110)): the centre of four
    // neighbouring atoms whose two diagonals are both longer than a neighbour distance. On a
    // triangular face every such rhombus has one short diagonal and its centre is a bridge.
    for (std::size_t i = 0; i < imgs.size(); ++i)
        for (std::size_t k = i + 1; k < imgs.size(); ++k) {
            const double diagonal = lateral(imgs[i].r, imgs[k].r);
            if (diagonal <= dcut || diagonal > 2 * dcut) continue;
            std::vector<std::size_t> common;
            for (std::size_t j = 0; j < imgs.size(); ++j)
                if (j != i && j != k && lateral(imgs[i].r, imgs[j].r) <= dcut && lateral(imgs[j].r, imgs[k].r) <= dcut)
                    common.push_back(j);
            const Eigen::Vector3d centre = 0.5 * (imgs[i].r + imgs[k].r);
            for (std::size_t a = 0; a < common.size(); ++a)
                for (std::size_t b = a + 1; b < common.size(); ++b) {
                    const std::size_t j = common[a], l = common[b];
                    // Each quadrilateral once: from the diagonal holding its lowest image index.
                    if (std::min(j, l) < i || lateral(imgs[j].r, imgs[l].r) <= dcut) continue;
                    if (lateral(centre, 0.5 * (imgs[j].r + imgs[l].r)) > 0.1 * dmin) continue;
                    add(SiteKind::Hollow, centre, {imgs[i].atom, imgs[j].atom, imgs[k].atom, imgs[l].atom});
                }
        }

    // Symmetry operations of the slab that keep the surface up (rotation leaves z alone).
    std::vector<std::pair<Eigen::Matrix3i, Eigen::Vector3d>> ops;
    ops = surface_operations(slab, search.symprec);
    // Without symmetry (never: the identity always maps), sites are unique up to the cell's translations only.
    if (ops.empty()) ops.emplace_back(Eigen::Matrix3i::Identity(), Eigen::Vector3d::Zero());

    // Group sites by kind into symmetry orbits.
    std::vector<AdsorptionSite> unique;
    std::vector<char> taken(raw.size(), 0);
    for (std::size_t i = 0; i < raw.size(); ++i) {
        if (taken[i]) continue;
        AdsorptionSite site = raw[i];
        site.multiplicity = 0;
        const Eigen::Vector3d fi = slab.to_fractional(raw[i].position);
        for (std::size_t j = i; j < raw.size(); ++j) {
            if (taken[j] || raw[j].kind != raw[i].kind) continue;
            const Eigen::Vector2d fj = inplane_frac(slab, raw[j].position);
            for (const auto& [R, t] : ops) {
                const Eigen::Vector3d mapped = R.cast<double>() * fi + t;
                if (inplane_distance(slab, Eigen::Vector2d(mapped[0], mapped[1]), fj) < search.symprec * 10) {
                    taken[j] = 1;
                    ++site.multiplicity;
                    site.equivalent_positions.push_back(raw[j].position);
                    break;
                }
            }
        }
        unique.push_back(site);
    }
    // Classify three-fold hollows: fcc when no second-plane atom lies beneath, hcp otherwise.
    for (auto& s : unique) {
        if (s.kind == SiteKind::Top) { s.name = "top"; continue; }
        if (s.kind == SiteKind::Bridge) { s.name = "bridge"; continue; }
        if (s.surface_atoms.size() == 4) { s.name = "4fold_hollow"; continue; }
        bool below = false;
        for (const auto& im : images_of(slab, second))
            if (lateral(im.r, s.position) < 0.3 * dmin) below = true;
        s.name = below ? "hcp_hollow" : "fcc_hollow";
    }
    std::stable_sort(unique.begin(), unique.end(), [](const AdsorptionSite& a, const AdsorptionSite& b) {
        auto rank = [](const AdsorptionSite& s) {
            return s.kind == SiteKind::Hollow ? (s.name == "hcp_hollow" ? 1 : 0) : s.kind == SiteKind::Bridge ? 2 : 3;
        };
        return rank(a) < rank(b);
    });
    // Several inequivalent sites of one name get suffixes _2, _3...
    for (std::size_t i = 0; i < unique.size(); ++i) {
        int n = 1;
        for (std::size_t j = 0; j < i; ++j)
            if (unique[j].name == unique[i].name || unique[j].name.rfind(unique[i].name + "_", 0) == 0) ++n;
        if (n > 1) unique[i].name += "_" + std::to_string(n);
    }
    return unique;
}

}  // namespace

std::vector<AdsorptionSite> find_adsorption_sites(const Structure& slab, const SiteSearch& search) {
    if (slab.size() == 0) throw StructureError("cannot find adsorption sites on an empty structure");
    if (search.face == Face::Top) return top_face_sites(slab, search);
    auto sites = top_face_sites(upside_down(slab), search);
    for (auto& s : sites) {
        s.face = Face::Bottom;
        s.position = flip(s.position);
        for (auto& p : s.equivalent_positions) p = flip(p);
    }
    return sites;
}

const AdsorptionSite& select_site(const std::vector<AdsorptionSite>& sites, const std::string& name,
                                  const std::string& source) {
    for (const auto& s : sites)
        if (s.name == name) return s;
    for (const auto& s : sites)  // generic kind names pick the first site of that kind
        if (name == to_string(s.kind)) return s;
    std::vector<std::string> known;
    for (const auto& s : sites) known.push_back(s.name);
    throw InputError(source, "site", text::unknown_name_message("adsorption site", name, known));
}

Structure add_adsorbate(const Structure& slab, const AdsorptionSite& site, const std::string& species, double height,
                        std::size_t copy) {
    if (copy > 0 && copy >= site.equivalent_positions.size())
        throw InputError("adsorbate", "copy",
                         fmt::format("site '{}' has {} equivalent positions, asked for copy {}", site.name,
                                     site.equivalent_positions.size(), copy));
    Structure out = slab;
    double h = height;
    if (h <= 0) {
        // Height at which the adsorbate sits at the covalent bond length from the site atoms.
        double r_lat = 1e300, bond = 0;
        for (auto k : site.surface_atoms) {
            Eigen::Vector3d d = out.minimum_image(out.to_fractional(site.position), out[k].frac);
            d[2] = 0;
            if (d.norm() < r_lat) {
                r_lat = d.norm();
                bond = element(species).covalent_radius + element(out[k].species).covalent_radius;
            }
        }
        h = r_lat < bond ? std::sqrt(bond * bond - r_lat * r_lat) : 0.5;
        h = std::max(h, 0.5);
    }
    // Equivalent copies share the geometry of the site, so the height found above holds for them.
    Eigen::Vector3d pos = copy == 0 ? site.position : site.equivalent_positions[copy];
    pos[2] += site.face == Face::Top ? h : -h;
    const double fz = out.to_fractional(pos)[2];
    if (fz >= 1.0 || fz < 0.0)
        throw StructureError(fmt::format("adsorbate at z = {:.2f} Å below the {} face leaves the cell: add vacuum",
                                         pos[2], to_string(site.face)));
    Atom& a = out.add_atom_cartesian(species, pos);
    a.label = "adsorbate";
    a.layer = -1;
    out.info["adsorbate"] = {{"species", species}, {"site", site.name}, {"height", h}, {"face", to_string(site.face)}};
    return out;
}

std::vector<VacancySite> find_vacancy_sites(const Structure& s, const std::string& species, double symprec) {
    std::vector<std::size_t> members;
    for (std::size_t i = 0; i < s.size(); ++i)
        if (s[i].species == species) members.push_back(i);
    if (members.empty())
        throw InputError(s.title.empty() ? std::string("structure") : s.title, "species",
                         fmt::format("no {} atoms to remove (composition {})", species, s.formula()));
    const auto ds = analyze_symmetry(s, symprec);
    std::vector<VacancySite> out;
    for (std::size_t i : members) {
        const auto rep = static_cast<std::size_t>(ds.equivalent_atoms[i]);
        auto it = std::find_if(out.begin(), out.end(), [&](const VacancySite& v) {
            return static_cast<std::size_t>(ds.equivalent_atoms[v.atom]) == rep;
        });
        if (it == out.end()) {
            out.push_back({i, species, s[i].frac, 0, ds.wyckoffs[i], {}});
            it = out.end() - 1;
        }
        ++it->multiplicity;
        it->equivalent_atoms.push_back(i);
    }
    return out;
}

}  // namespace interphase::structures
