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

namespace {

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

}  // namespace

std::vector<AdsorptionSite> find_adsorption_sites(const Structure& slab, const SiteSearch& search) {
    if (slab.size() == 0) throw StructureError("cannot find adsorption sites on an empty structure");
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
        raw.push_back({kind, "", pos, std::move(atoms), 1});
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

    // Symmetry operations of the slab that keep the surface up (rotation leaves z alone).
    std::vector<std::pair<Eigen::Matrix3i, Eigen::Vector3d>> ops;
    try {
        const auto ds = analyze_symmetry(slab, search.symprec);
        for (std::size_t k = 0; k < ds.rotations.size(); ++k) {
            const auto& R = ds.rotations[k];
            if (R(2, 2) == 1 && R(2, 0) == 0 && R(2, 1) == 0 && R(0, 2) == 0 && R(1, 2) == 0 &&
                std::abs(ds.translations[k][2] - std::round(ds.translations[k][2])) < 1e-6)
                ops.emplace_back(R, ds.translations[k]);
        }
    } catch (const Error&) {
        // Without symmetry, sites are unique up to the cell's translations only.
    }
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
                    break;
                }
            }
        }
        unique.push_back(site);
    }
    // Classify hollows: fcc when no second-plane atom lies beneath, hcp otherwise.
    for (auto& s : unique) {
        if (s.kind == SiteKind::Top) { s.name = "top"; continue; }
        if (s.kind == SiteKind::Bridge) { s.name = "bridge"; continue; }
        bool below = false;
        for (const auto& im : images_of(slab, second))
            if (lateral(im.r, s.position) < 0.3 * dmin) below = true;
        s.name = below ? "hcp_hollow" : "fcc_hollow";
    }
    std::stable_sort(unique.begin(), unique.end(), [](const AdsorptionSite& a, const AdsorptionSite& b) {
        auto rank = [](const AdsorptionSite& s) {
            return s.kind == SiteKind::Hollow ? (s.name == "fcc_hollow" ? 0 : 1) : s.kind == SiteKind::Bridge ? 2 : 3;
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

Structure add_adsorbate(const Structure& slab, const AdsorptionSite& site, const std::string& species, double height) {
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
    Eigen::Vector3d pos = site.position;
    pos[2] += h;
    if (out.to_fractional(pos)[2] >= 1.0)
        throw StructureError(fmt::format("adsorbate at {:.2f} Å leaves the cell: add vacuum", pos[2]));
    Atom& a = out.add_atom_cartesian(species, pos);
    a.label = "adsorbate";
    a.layer = -1;
    out.info["adsorbate"] = {{"species", species}, {"site", site.name}, {"height", h}};
    return out;
}

}  // namespace interphase::structures
